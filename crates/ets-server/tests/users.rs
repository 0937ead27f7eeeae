//! Tests of the users file: what is stored (hashes, never secrets), round
//! trips through `Users::load`, atomic rewrites and refusals that leave the
//! file unchanged.

use ets_model::ParticipantId;
use ets_server::{Principal, Role, Users};
use serde_json::Value;
use std::path::Path;

const PASSWORD: &str = "correct horse battery staple";

fn store_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn users_round_trip_with_only_hashes_on_disk() {
    // Goal: users and tokens written by add_user and issue_token load back,
    // authenticate with the right password or token and only with it, and the
    // file holds argon2id hashes (never the password or the token secret),
    // is readable by its owner only, and leaves no temporary file behind.
    let dir = store_dir();
    Users::add_user(
        dir.path(),
        "admin",
        PASSWORD,
        ParticipantId(1),
        Role::Administrator,
    )
    .expect("admin added");
    Users::add_user(
        dir.path(),
        "trader@fund",
        "another passphrase",
        ParticipantId(20),
        Role::ExchangeMember,
    )
    .expect("trader added");
    let token = Users::issue_token(dir.path(), "trader@fund").expect("token");
    assert!(
        token.starts_with("ets_") && token.len() == 4 + 8 + 1 + 43,
        "{token}"
    );
    let second = Users::issue_token(dir.path(), "trader@fund").expect("second token");
    assert_ne!(token, second);

    let text = std::fs::read_to_string(dir.path().join("users.json")).expect("file");
    assert!(!text.contains(PASSWORD) && !text.contains(&token[13..]));
    let file: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(file["version"], 1);
    assert_eq!(file["users"][0]["name"], "admin");
    assert_eq!(file["users"][0]["role"], "administrator");
    assert_eq!(file["users"][0]["participant"], 1);
    assert!(
        file["users"][0]["password_hash"]
            .as_str()
            .is_some_and(|hash| hash.starts_with("$argon2id$"))
    );
    assert_eq!(file["users"][1]["tokens"][0]["id"], &token[4..12]);
    assert_eq!(file_names(dir.path()), ["users.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("users.json"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let users = Users::load(dir.path()).expect("loads");
    let trader = Principal {
        name: "trader@fund".into(),
        participant: ParticipantId(20),
        role: Role::ExchangeMember,
    };
    assert_eq!(users.principals().len(), 2);
    assert_eq!(
        users.authenticate_basic("admin", PASSWORD).map(|p| p.role),
        Ok(Role::Administrator)
    );
    assert_eq!(
        users.authenticate_basic("admin", "another passphrase"),
        Err(ets_server::AuthError::WrongPassword)
    );
    assert_eq!(
        users.authenticate_basic("nobody", PASSWORD),
        Err(ets_server::AuthError::UnknownUser)
    );
    assert_eq!(users.authenticate_token(&token), Ok(trader.clone()));
    assert_eq!(
        users.authenticate_token(&token),
        Ok(trader.clone()),
        "again, from the cache"
    );
    assert_eq!(users.authenticate_token(&second), Ok(trader));
    let mut wrong = token.clone();
    wrong.replace_range(20..21, if &token[20..21] == "A" { "B" } else { "A" });
    assert_eq!(
        users.authenticate_token(&wrong),
        Err(ets_server::AuthError::WrongToken)
    );
}

#[test]
fn refused_changes_leave_the_file_byte_for_byte_unchanged() {
    // Goal: a short password, a bad name, a taken name, an unknown user or
    // token and a corrupt file are refused with their stable codes, and none
    // of the refusals rewrites users.json or leaves a temporary file.
    let dir = store_dir();
    Users::add_user(
        dir.path(),
        "admin",
        PASSWORD,
        ParticipantId(1),
        Role::Administrator,
    )
    .expect("added");
    let before = std::fs::read(dir.path().join("users.json")).expect("file");
    let refusals = [
        Users::add_user(
            dir.path(),
            "bob",
            "elevenchars",
            ParticipantId(2),
            Role::Auditor,
        ),
        Users::add_user(
            dir.path(),
            "bo:b",
            PASSWORD,
            ParticipantId(2),
            Role::Auditor,
        ),
        Users::add_user(dir.path(), "", PASSWORD, ParticipantId(2), Role::Auditor),
        Users::add_user(
            dir.path(),
            "admin",
            PASSWORD,
            ParticipantId(2),
            Role::Auditor,
        ),
        Users::issue_token(dir.path(), "nobody").map(drop),
        Users::revoke_token(dir.path(), "0badc0de"),
    ];
    let codes: Vec<&str> = refusals
        .iter()
        .map(|result| {
            result
                .as_ref()
                .map_err(|error| error.code())
                .err()
                .unwrap_or("ok")
        })
        .collect();
    assert_eq!(
        codes,
        [
            "password_too_short",
            "bad_user_name",
            "bad_user_name",
            "user_exists",
            "unknown_user",
            "unknown_token"
        ]
    );
    assert_eq!(
        std::fs::read(dir.path().join("users.json")).expect("file"),
        before
    );
    assert_eq!(file_names(dir.path()), ["users.json"]);

    std::fs::write(
        dir.path().join("users.json"),
        "{\"version\":2,\"users\":[]}",
    )
    .expect("written");
    assert_eq!(
        Users::load(dir.path())
            .map(drop)
            .map_err(|error| error.code()),
        Err("users_file_invalid")
    );
}

#[test]
fn a_torn_temporary_file_from_a_crash_is_ignored() {
    // Goal: a crash between writing the temporary file and renaming it leaves
    // the previous users.json in force; the next change still succeeds.
    let dir = store_dir();
    Users::add_user(
        dir.path(),
        "admin",
        PASSWORD,
        ParticipantId(1),
        Role::Administrator,
    )
    .expect("added");
    std::fs::write(
        dir.path().join(".users.json.0011223344556677.tmp"),
        "{\"vers",
    )
    .expect("torn");
    let users = Users::load(dir.path()).expect("previous file loads");
    assert_eq!(users.principals().len(), 1);
    Users::add_user(
        dir.path(),
        "auditor",
        PASSWORD,
        ParticipantId(9),
        Role::Auditor,
    )
    .expect("added after the crash");
    assert_eq!(
        Users::load(dir.path()).expect("loads").principals().len(),
        2
    );
}

#[test]
fn a_missing_users_file_means_no_users() {
    // Goal: a store without users.json loads as no users, so nobody is let in.
    let dir = store_dir();
    let users = Users::load(dir.path()).expect("loads");
    assert!(users.principals().is_empty());
    assert!(users.authenticate_basic("admin", PASSWORD).is_err());
}
