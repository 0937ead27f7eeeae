//! The users of the HTTP API: who they are, which participant they act as,
//! their role, their argon2id password hash and their API tokens. They live in
//! `users.json` in the store directory, beside (never inside) the journal, and
//! every change rewrites the file atomically: temporary file, fsync, rename,
//! fsync of the directory.
//!
//! A token reads `ets_<id>_<secret>`: `<id>` is 8 lowercase hex digits, public
//! and used to find the token; `<secret>` is 32 random bytes in base64url
//! without padding. Only an argon2id hash of the secret is stored, so the token
//! is shown once, when issued. Argon2 is deliberately slow, so a token verified
//! once is remembered in memory for the life of this [`Users`] value; passwords
//! (HTTP Basic) are never remembered and cost one argon2 verification per
//! request.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ets_model::ParticipantId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The users file's name inside the store directory.
pub const USERS_FILE_NAME: &str = "users.json";
/// The users file format version this code reads and writes.
pub const USERS_FILE_VERSION: u32 = 1;
/// The shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// The longest accepted password, in bytes (argon2 input is bounded).
pub const PASSWORD_MAX_BYTES: usize = 1024;
/// The longest accepted user name, in bytes.
pub const NAME_MAX_BYTES: usize = 64;
/// The most users one file may hold.
pub const USERS_MAX: usize = 10_000;
/// The most API tokens one user may hold.
pub const TOKENS_PER_USER_MAX: usize = 16;
/// How long a token issued by [`Users::issue_token`] is accepted: 90 days.
pub const TOKEN_LIFETIME_DEFAULT: std::time::Duration =
    std::time::Duration::from_secs(90 * 24 * 60 * 60);

const TOKEN_PREFIX: &str = "ets_";
const TOKEN_ID_CHARS: usize = 8;
const TOKEN_SECRET_BYTES: usize = 32;
/// Base64url without padding of 32 bytes.
const TOKEN_SECRET_CHARS: usize = 43;
const SALT_BYTES: usize = 16;

pub use ets_api::{Principal, Role, UnknownRole};

/// Why the users file could not be read, changed or written.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The users file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The users file is not valid JSON of the expected shape.
    #[error("{path} is not a valid users file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The users file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written (the temporary file or the final one).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A user name that is empty, too long or has characters outside
    /// `A-Z a-z 0-9 . _ - @`.
    #[error("user name {name:?} is not allowed: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A password shorter than [`PASSWORD_MIN_CHARS`].
    #[error(
        "the password has {length_chars} characters; at least {PASSWORD_MIN_CHARS} are required"
    )]
    PasswordTooShort {
        /// Its length in characters.
        length_chars: usize,
    },
    /// A password that is common, a repetition or sequence, or the user's name.
    #[error("the password is too easy to guess: {reason}")]
    WeakPassword {
        /// Why.
        reason: &'static str,
    },
    /// A password longer than [`PASSWORD_MAX_BYTES`].
    #[error("the password has {length_bytes} bytes; at most {PASSWORD_MAX_BYTES} are accepted")]
    PasswordTooLong {
        /// Its length in bytes.
        length_bytes: usize,
    },
    /// The name is taken.
    #[error("user {name:?} already exists")]
    UserExists {
        /// The name.
        name: String,
    },
    /// No user has this name.
    #[error("no user is named {name:?}")]
    UnknownUser {
        /// The name.
        name: String,
    },
    /// No token has this id.
    #[error("no token has the id {token_id:?}")]
    UnknownToken {
        /// The token id.
        token_id: String,
    },
    /// The file already holds [`USERS_MAX`] users.
    #[error("the users file already holds {USERS_MAX} users")]
    TooManyUsers,
    /// The user already holds [`TOKENS_PER_USER_MAX`] tokens.
    #[error("user {name:?} already holds {TOKENS_PER_USER_MAX} tokens; revoke one first")]
    TooManyTokens {
        /// The user.
        name: String,
    },
    /// The operating system gave no random bytes.
    #[error("no randomness available: {0}")]
    Randomness(String),
    /// Argon2 failed to hash.
    #[error("hashing failed: {0}")]
    Hashing(String),
    /// The users table of a database store could not be read or written.
    #[error("the users in the database: {reason}")]
    Database {
        /// What the database said (the URL's password redacted).
        reason: String,
    },
    /// Another change of the users in the database came first; nothing was written.
    #[error(
        "the users changed meanwhile (another `ets user` at the same time); send the change again"
    )]
    Changed,
}

impl UsersError {
    /// The stable snake_case code of the error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            UsersError::Read { .. } => "users_file_unreadable",
            UsersError::Invalid { .. } => "users_file_invalid",
            UsersError::Write { .. } => "users_file_unwritable",
            UsersError::BadName { .. } => "bad_user_name",
            UsersError::PasswordTooShort { .. } => "password_too_short",
            UsersError::PasswordTooLong { .. } => "password_too_long",
            UsersError::WeakPassword { .. } => "weak_password",
            UsersError::UserExists { .. } => "user_exists",
            UsersError::UnknownUser { .. } => "unknown_user",
            UsersError::UnknownToken { .. } => "unknown_token",
            UsersError::TooManyUsers => "too_many_users",
            UsersError::TooManyTokens { .. } => "too_many_tokens",
            UsersError::Randomness(_) => "randomness_unavailable",
            UsersError::Hashing(_) => "hashing_failed",
            UsersError::Database { .. } => "users_database_failed",
            UsersError::Changed => "users_changed",
        }
    }
}

/// Why credentials were not accepted. The HTTP API answers every one of these
/// with the same `401 unauthenticated`, so a client cannot tell a wrong name
/// from a wrong password; the codes are for the server's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No user has this name.
    #[error("no such user")]
    UnknownUser,
    /// The password does not match.
    #[error("wrong password")]
    WrongPassword,
    /// The token is not of the form `ets_<id>_<secret>`.
    #[error("malformed token")]
    MalformedToken,
    /// No token has this id (it may have been revoked).
    #[error("unknown token")]
    UnknownToken,
    /// The token's secret does not match.
    #[error("wrong token secret")]
    WrongToken,
    /// The token's lifetime has ended.
    #[error("expired token")]
    ExpiredToken,
}

impl AuthError {
    /// The stable snake_case code of the error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::UnknownUser => "unknown_user",
            AuthError::WrongPassword => "wrong_password",
            AuthError::MalformedToken => "malformed_token",
            AuthError::UnknownToken => "unknown_token",
            AuthError::WrongToken => "wrong_token",
            AuthError::ExpiredToken => "expired_token",
        }
    }
}

/// `users.json` as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    version: u32,
    users: Vec<UserRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRecord {
    name: String,
    participant: u64,
    role: Role,
    /// PHC string of the argon2id hash of the password.
    password_hash: String,
    tokens: Vec<TokenRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRecord {
    id: String,
    /// PHC string of the argon2id hash of the token's secret.
    secret_hash: String,
    created_unix_seconds: u64,
    /// When the token stops being accepted; absent in files written before
    /// tokens expired (such tokens last until revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_unix_seconds: Option<u64>,
}

/// A token verified once: its secret, compared in constant time on later
/// requests instead of running argon2 again.
struct CachedToken {
    secret: String,
    user_index: usize,
    expires_unix_seconds: Option<u64>,
}

/// The users of one store directory, as loaded; authentication runs against
/// this copy. Changes (`add_user`, `issue_token`, `revoke_token`) go to the
/// file; load again to see them.
pub struct Users {
    file: UsersFile,
    /// The database revision it was read at (0 for a users file).
    revision: i64,
    by_name: BTreeMap<String, usize>,
    /// Token id to (user index, token index).
    by_token_id: BTreeMap<String, (usize, usize)>,
    verified_tokens: Mutex<HashMap<String, CachedToken>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes stay out of logs.
        formatter
            .debug_struct("Users")
            .field("users", &self.by_name.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Where a server's users live: `users.json` in a directory, or the
/// `ets_users` table in the database of a PostgreSQL store (docs/postgres.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersLocation {
    /// The directory holding `users.json`.
    Directory(PathBuf),
    /// The PostgreSQL URL of the store's database.
    Database(String),
}

/// The path of the users file of a store directory.
#[must_use]
pub fn users_path(dir: &Path) -> PathBuf {
    dir.join(USERS_FILE_NAME)
}

impl Users {
    /// Reads `users.json` from the store directory `dir`. A missing file means
    /// no users (every protected request is then refused with 401).
    ///
    /// # Errors
    /// [`UsersError::Read`] when the file exists but cannot be read;
    /// [`UsersError::Invalid`] when it is not a valid users file (bad JSON,
    /// unknown version, repeated names or token ids, unparsable hashes).
    pub fn load(dir: &Path) -> Result<Users, UsersError> {
        Users::load_at(&UsersLocation::Directory(dir.to_path_buf()))
    }

    /// As [`Users::load`], from either place users live; none stored yet
    /// means no users.
    ///
    /// # Errors
    /// As [`Users::load`], and [`UsersError::Database`] for a database.
    pub fn load_at(location: &UsersLocation) -> Result<Users, UsersError> {
        let (text, revision, path) = match location {
            UsersLocation::Directory(dir) => {
                let path = users_path(dir);
                match std::fs::read_to_string(&path) {
                    Ok(text) => (text, 0, path),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(Users::empty());
                    }
                    Err(source) => return Err(UsersError::Read { path, source }),
                }
            }
            UsersLocation::Database(url) => {
                let mut client = crate::users_db::connect(url)?;
                let stored = crate::users_db::read(&mut client, url)?;
                let Some(text) = stored.document else {
                    return Ok(Users::empty());
                };
                (text, stored.revision, database_label(url))
            }
        };
        let file: UsersFile = serde_json::from_str(&text).map_err(|error| UsersError::Invalid {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        let mut users = Users::from_file(file, &path)?;
        users.revision = revision;
        Ok(users)
    }

    /// Writes `file` where `self` was read from, over the revision it was read at.
    fn save(&self, location: &UsersLocation, file: &UsersFile) -> Result<(), UsersError> {
        match location {
            UsersLocation::Directory(dir) => write_atomically(dir, file),
            UsersLocation::Database(url) => {
                let text =
                    serde_json::to_string_pretty(file).map_err(|error| UsersError::Invalid {
                        path: database_label(url),
                        reason: error.to_string(),
                    })?;
                let mut client = crate::users_db::connect(url)?;
                crate::users_db::write(&mut client, url, self.revision, &text)
            }
        }
    }

    /// Adds a user to the users file of `dir`, hashing the password with
    /// argon2id, and rewrites the file atomically. The participant is not
    /// checked against the registry here: the engine refuses commands from a
    /// participant that is not registered (except the administrator's first).
    ///
    /// # Errors
    /// [`UsersError::BadName`], [`UsersError::PasswordTooShort`] (fewer than
    /// [`PASSWORD_MIN_CHARS`] characters), [`UsersError::PasswordTooLong`],
    /// [`UsersError::UserExists`], [`UsersError::TooManyUsers`]; the errors of
    /// [`Users::load`]; [`UsersError::Randomness`], [`UsersError::Hashing`] and
    /// [`UsersError::Write`] when the new file cannot be made.
    pub fn add_user(
        dir: &Path,
        name: &str,
        password: &str,
        participant: ParticipantId,
        role: Role,
    ) -> Result<(), UsersError> {
        let location = UsersLocation::Directory(dir.to_path_buf());
        Users::add_user_at(&location, name, password, participant, role)
    }

    /// As [`Users::add_user`], wherever the users live.
    ///
    /// # Errors
    /// As [`Users::add_user`]; for a database also [`UsersError::Database`]
    /// and [`UsersError::Changed`].
    pub fn add_user_at(
        location: &UsersLocation,
        name: &str,
        password: &str,
        participant: ParticipantId,
        role: Role,
    ) -> Result<(), UsersError> {
        check_name(name)?;
        check_password(password)?;
        check_password_strength(name, password)?;
        let users = Users::load_at(location)?;
        if users.by_name.contains_key(name) {
            return Err(UsersError::UserExists {
                name: name.to_owned(),
            });
        }
        if users.file.users.len() >= USERS_MAX {
            return Err(UsersError::TooManyUsers);
        }
        let mut file = users.file.clone();
        file.users.push(UserRecord {
            name: name.to_owned(),
            participant: participant.0,
            role,
            password_hash: hash_secret(password.as_bytes())?,
            tokens: Vec::new(),
        });
        users.save(location, &file)
    }

    /// Issues a new API token for user `name` in the users file of `dir` and
    /// returns it. The token is returned only this once: the file keeps only
    /// its id and an argon2id hash of its secret.
    ///
    /// # Errors
    /// [`UsersError::UnknownUser`], [`UsersError::TooManyTokens`]; the errors of
    /// [`Users::load`]; [`UsersError::Randomness`], [`UsersError::Hashing`] and
    /// [`UsersError::Write`] when the new file cannot be made.
    pub fn issue_token(dir: &Path, name: &str) -> Result<String, UsersError> {
        Users::issue_token_for(dir, name, TOKEN_LIFETIME_DEFAULT)
    }

    /// Like [`Users::issue_token`], with a token that expires `lifetime` from now.
    ///
    /// # Errors
    /// As [`Users::issue_token`].
    pub fn issue_token_for(
        dir: &Path,
        name: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, UsersError> {
        let location = UsersLocation::Directory(dir.to_path_buf());
        Users::issue_token_at(&location, name, lifetime)
    }

    /// As [`Users::issue_token_for`], wherever the users live.
    ///
    /// # Errors
    /// As [`Users::issue_token`]; for a database also [`UsersError::Database`]
    /// and [`UsersError::Changed`].
    pub fn issue_token_at(
        location: &UsersLocation,
        name: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, UsersError> {
        let users = Users::load_at(location)?;
        let user_index = *users
            .by_name
            .get(name)
            .ok_or_else(|| UsersError::UnknownUser {
                name: name.to_owned(),
            })?;
        let id = users.fresh_token_id()?;
        let mut secret_bytes = [0_u8; TOKEN_SECRET_BYTES];
        fill_random(&mut secret_bytes)?;
        let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
        let mut file = users.file.clone();
        let user = &mut file.users[user_index];
        if user.tokens.len() >= TOKENS_PER_USER_MAX {
            return Err(UsersError::TooManyTokens {
                name: name.to_owned(),
            });
        }
        user.tokens.push(TokenRecord {
            id: id.clone(),
            secret_hash: hash_secret(secret.as_bytes())?,
            created_unix_seconds: unix_seconds_now(),
            expires_unix_seconds: Some(unix_seconds_now().saturating_add(lifetime.as_secs())),
        });
        users.save(location, &file)?;
        Ok(format!("{TOKEN_PREFIX}{id}_{secret}"))
    }

    /// Removes the token with id `token_id` (the 8 hex digits after `ets_`)
    /// from the users file of `dir`. A running server stops accepting it
    /// within [`crate::USERS_CHECK_INTERVAL`], when it notices the file changed.
    ///
    /// # Errors
    /// [`UsersError::UnknownToken`]; the errors of [`Users::load`];
    /// [`UsersError::Write`] when the new file cannot be written.
    pub fn revoke_token(dir: &Path, token_id: &str) -> Result<(), UsersError> {
        Users::revoke_token_at(&UsersLocation::Directory(dir.to_path_buf()), token_id)
    }

    /// As [`Users::revoke_token`], wherever the users live.
    ///
    /// # Errors
    /// As [`Users::revoke_token`]; for a database also [`UsersError::Database`]
    /// and [`UsersError::Changed`].
    pub fn revoke_token_at(location: &UsersLocation, token_id: &str) -> Result<(), UsersError> {
        let users = Users::load_at(location)?;
        let (user_index, token_index) =
            *users
                .by_token_id
                .get(token_id)
                .ok_or_else(|| UsersError::UnknownToken {
                    token_id: token_id.to_owned(),
                })?;
        let mut file = users.file.clone();
        file.users[user_index].tokens.remove(token_index);
        users.save(location, &file)
    }

    /// Copies every user of the users file in `from` (password hashes and
    /// tokens as they are) to `location`; returns how many.
    ///
    /// # Errors
    /// [`UsersError::UserExists`] when a name is already there (nothing is
    /// copied), [`UsersError::TooManyUsers`], and the errors of loading
    /// either side and of writing `location`.
    pub fn import_at(location: &UsersLocation, from: &Path) -> Result<usize, UsersError> {
        let source = Users::load(from)?;
        let target = Users::load_at(location)?;
        if let Some(clash) = source
            .file
            .users
            .iter()
            .find(|user| target.by_name.contains_key(&user.name))
        {
            return Err(UsersError::UserExists {
                name: clash.name.clone(),
            });
        }
        let mut file = target.file.clone();
        file.users.extend(source.file.users.iter().cloned());
        if file.users.len() > USERS_MAX {
            return Err(UsersError::TooManyUsers);
        }
        // Token ids must stay unique across both: checked as on every load.
        Users::from_file(file.clone(), &users_path(from))?;
        target.save(location, &file)?;
        Ok(source.file.users.len())
    }

    /// The database revision these users were read at (0 for a users file).
    #[must_use]
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Every user, in the order they were added.
    #[must_use]
    pub fn principals(&self) -> Vec<Principal> {
        self.file.users.iter().map(principal_of).collect()
    }

    /// Checks a user name and password (HTTP Basic). An unknown name costs
    /// the same argon2 verification as a wrong password, so timing does not
    /// tell which names exist.
    ///
    /// # Errors
    /// [`AuthError::UnknownUser`] or [`AuthError::WrongPassword`].
    pub fn authenticate_basic(&self, name: &str, password: &str) -> Result<Principal, AuthError> {
        // Exactly one argon2 verification of at most PASSWORD_MAX_BYTES on
        // every path (unknown name, overlong or wrong password, success), so
        // the time taken tells neither whether the name exists nor anything
        // about the password's length.
        let user = self
            .by_name
            .get(name)
            .map(|&user_index| &self.file.users[user_index]);
        let fits = password.len() <= PASSWORD_MAX_BYTES;
        let candidate = if fits {
            password.as_bytes()
        } else {
            &password.as_bytes()[..PASSWORD_MAX_BYTES]
        };
        let hash = user.map_or(dummy_hash(), |user| user.password_hash.as_str());
        let matches = verify_secret(candidate, hash);
        match user {
            None => Err(AuthError::UnknownUser),
            Some(user) if matches && fits => Ok(principal_of(user)),
            Some(_) => Err(AuthError::WrongPassword),
        }
    }

    /// Checks an API token `ets_<id>_<secret>`. The first success for a token
    /// runs argon2; later ones compare with the remembered secret.
    ///
    /// # Errors
    /// [`AuthError::MalformedToken`], [`AuthError::UnknownToken`] or
    /// [`AuthError::WrongToken`].
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(principal) = self.cached_token(token) {
            return Ok(principal);
        }
        let (id, secret) = split_token(token).ok_or(AuthError::MalformedToken)?;
        let &(user_index, token_index) = self.by_token_id.get(id).ok_or(AuthError::UnknownToken)?;
        let user = &self.file.users[user_index];
        let token = &user.tokens[token_index];
        if !verify_secret(secret.as_bytes(), &token.secret_hash) {
            return Err(AuthError::WrongToken);
        }
        if expired(token.expires_unix_seconds) {
            return Err(AuthError::ExpiredToken);
        }
        self.verified_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                id.to_owned(),
                CachedToken {
                    secret: secret.to_owned(),
                    user_index,
                    expires_unix_seconds: token.expires_unix_seconds,
                },
            );
        Ok(principal_of(user))
    }

    /// The principal of a token verified before by this value, without
    /// running argon2; `None` when it has not been (or does not match).
    pub(crate) fn cached_token(&self, token: &str) -> Option<Principal> {
        let (id, secret) = split_token(token)?;
        let cache = self
            .verified_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let cached = cache.get(id)?;
        if !constant_time_eq(cached.secret.as_bytes(), secret.as_bytes())
            || expired(cached.expires_unix_seconds)
        {
            return None;
        }
        Some(principal_of(&self.file.users[cached.user_index]))
    }

    /// No users at all.
    pub(crate) fn empty() -> Users {
        Users {
            file: UsersFile {
                version: USERS_FILE_VERSION,
                users: Vec::new(),
            },
            revision: 0,
            by_name: BTreeMap::new(),
            by_token_id: BTreeMap::new(),
            verified_tokens: Mutex::new(HashMap::new()),
        }
    }

    fn from_file(file: UsersFile, path: &Path) -> Result<Users, UsersError> {
        let invalid = |reason: String| UsersError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if file.version != USERS_FILE_VERSION {
            return Err(invalid(format!(
                "version {} is not {USERS_FILE_VERSION}",
                file.version
            )));
        }
        if file.users.len() > USERS_MAX {
            return Err(invalid(format!("more than {USERS_MAX} users")));
        }
        let mut by_name = BTreeMap::new();
        let mut by_token_id = BTreeMap::new();
        for (user_index, user) in file.users.iter().enumerate() {
            check_record(user).map_err(invalid)?;
            if by_name.insert(user.name.clone(), user_index).is_some() {
                return Err(invalid(format!("user {:?} appears twice", user.name)));
            }
            for (token_index, token) in user.tokens.iter().enumerate() {
                if by_token_id
                    .insert(token.id.clone(), (user_index, token_index))
                    .is_some()
                {
                    return Err(invalid(format!("token id {:?} appears twice", token.id)));
                }
            }
        }
        Ok(Users {
            file,
            revision: 0,
            by_name,
            by_token_id,
            verified_tokens: Mutex::new(HashMap::new()),
        })
    }

    /// A token id not used by any token of the file.
    fn fresh_token_id(&self) -> Result<String, UsersError> {
        // 2^32 ids against at most USERS_MAX * TOKENS_PER_USER_MAX tokens: a
        // collision is rare, several in a row practically impossible.
        for _ in 0..16 {
            let mut bytes = [0_u8; TOKEN_ID_CHARS / 2];
            fill_random(&mut bytes)?;
            let id: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
            if !self.by_token_id.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(UsersError::Randomness(
            "16 random token ids in a row were taken".to_owned(),
        ))
    }
}

fn principal_of(user: &UserRecord) -> Principal {
    Principal {
        name: user.name.clone(),
        participant: ParticipantId(user.participant),
        role: user.role,
    }
}

fn check_name(name: &str) -> Result<(), UsersError> {
    let bad = |reason| {
        Err(UsersError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > NAME_MAX_BYTES {
        return bad("it is longer than 64 bytes");
    }
    // No ':' in particular: HTTP Basic splits the name from the password there.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if !name.chars().all(allowed) {
        return bad("only A-Z a-z 0-9 . _ - @ are allowed");
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), UsersError> {
    let length_chars = password.chars().count();
    if length_chars < PASSWORD_MIN_CHARS {
        return Err(UsersError::PasswordTooShort { length_chars });
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(UsersError::PasswordTooLong {
            length_bytes: password.len(),
        });
    }
    Ok(())
}

fn check_record(user: &UserRecord) -> Result<(), String> {
    check_name(&user.name).map_err(|error| error.to_string())?;
    PasswordHash::new(&user.password_hash)
        .map_err(|error| format!("user {:?}: password hash: {error}", user.name))?;
    if user.tokens.len() > TOKENS_PER_USER_MAX {
        return Err(format!(
            "user {:?} has more than {TOKENS_PER_USER_MAX} tokens",
            user.name
        ));
    }
    for token in &user.tokens {
        let id_ok = token.id.len() == TOKEN_ID_CHARS
            && token
                .id
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        if !id_ok {
            return Err(format!("token id {:?} is not 8 hex digits", token.id));
        }
        PasswordHash::new(&token.secret_hash)
            .map_err(|error| format!("token {:?}: hash: {error}", token.id))?;
    }
    Ok(())
}

/// Splits `ets_<id>_<secret>` into its id and secret.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let id = rest.get(..TOKEN_ID_CHARS)?;
    let secret = rest.get(TOKEN_ID_CHARS..)?.strip_prefix('_')?;
    let id_ok = id
        .bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    let secret_ok = secret.len() == TOKEN_SECRET_CHARS
        && secret
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Compares without stopping at the first difference, so the time taken does
/// not tell how much of a guessed secret was right.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0_u8, |acc, (l, r)| acc | (l ^ r));
    std::hint::black_box(difference) == 0
}

fn fill_random(bytes: &mut [u8]) -> Result<(), UsersError> {
    getrandom::fill(bytes).map_err(|error| UsersError::Randomness(error.to_string()))
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane) with a fresh
/// 16-byte salt, as a PHC string.
fn hash_secret(secret: &[u8]) -> Result<String, UsersError> {
    let mut salt_bytes = [0_u8; SALT_BYTES];
    fill_random(&mut salt_bytes)?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|error| UsersError::Hashing(error.to_string()))?;
    Argon2::default()
        .hash_password(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| UsersError::Hashing(error.to_string()))
}

/// Whether `secret` matches the PHC string `hash` (checked parsable on load).
fn verify_secret(secret: &[u8], hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(secret, &parsed).is_ok())
}

/// A hash that matches no password, verified against for unknown names.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        // A fixed salt is fine: nothing is ever meant to match this hash.
        SaltString::encode_b64(&[0x5a; SALT_BYTES])
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(b"no user has this password", &salt)
                    .map(|hash| hash.to_string())
            })
            .unwrap_or_default()
    })
}

/// Whether a token with this end has expired by now.
fn expired(expires_unix_seconds: Option<u64>) -> bool {
    expires_unix_seconds.is_some_and(|end| unix_seconds_now() >= end)
}

/// Passwords people pick first, refused whatever their length. A short list
/// on purpose: the length rule already refuses most of the common lists.
const COMMON_PASSWORDS: &[&str] = &[
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "123456789012",
    "1234567890123",
    "12345678901234",
    "qwertyuiopas",
    "qwertyuiop123",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "iloveyou1234",
    "administrator",
    "administrator1",
    "letmein12345",
    "welcome12345",
    "changeme1234",
    "abcdefghijkl",
    "abc123456789",
    "trustno11234",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "superman1234",
    "princess1234",
    "dragon123456",
    "monkey123456",
    "master123456",
    "starwars1234",
    "passw0rd1234",
    "p@ssw0rd1234",
    "correcthorse",
    "zaq12wsxcde3",
    "asdfghjkl123",
];

/// The common-password check: a listed password (ignoring case), one
/// character repeated, a run of consecutive characters, or the user's name.
fn check_password_strength(name: &str, password: &str) -> Result<(), UsersError> {
    let weak = |reason| Err(UsersError::WeakPassword { reason });
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return weak("it is on the list of common passwords");
    }
    let chars: Vec<char> = lower.chars().collect();
    if chars.windows(2).all(|pair| pair[0] == pair[1]) {
        return weak("it is one character repeated");
    }
    let step = |pair: &[char]| i64::from(u32::from(pair[1])) - i64::from(u32::from(pair[0]));
    if chars.windows(2).all(|pair| step(pair) == 1) || chars.windows(2).all(|pair| step(pair) == -1)
    {
        return weak("it is a run of consecutive characters");
    }
    if !name.is_empty() && lower.contains(&name.to_lowercase()) {
        return weak("it contains the user name");
    }
    Ok(())
}

fn unix_seconds_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// How errors name the users of a database store (its URL's password redacted).
fn database_label(url: &str) -> PathBuf {
    PathBuf::from(format!("the ets_users table of {}", ets_store::redact(url)))
}

/// Replaces `users.json` so that a reader (or a crash) sees either the old
/// file or the new one, never a mix: write a temporary file in the same
/// directory, fsync it, rename it over the old one, fsync the directory.
fn write_atomically(dir: &Path, file: &UsersFile) -> Result<(), UsersError> {
    let path = users_path(dir);
    let mut text = serde_json::to_string_pretty(file).map_err(|error| UsersError::Invalid {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    text.push('\n');
    let mut nonce = [0_u8; 8];
    fill_random(&mut nonce)?;
    let nonce: String = nonce.iter().map(|byte| format!("{byte:02x}")).collect();
    let temporary = dir.join(format!(".{USERS_FILE_NAME}.{nonce}.tmp"));
    let written = write_and_sync(&temporary, text.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|source| UsersError::Write {
            path: temporary.clone(),
            source,
        });
    if written.is_err() {
        // Best effort: the rename did not happen, so the old file is intact.
        let _ = std::fs::remove_file(&temporary);
        return written;
    }
    sync_directory(dir).map_err(|source| UsersError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Hashes only, but nobody else needs to read them.
        options.mode(0o600);
    }
    let mut handle = options.open(path)?;
    handle.write_all(bytes)?;
    handle.sync_all()
}

/// Makes the rename itself durable.
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_only_in_their_exact_shape() {
        // Goal: the token parser accepts `ets_<8 hex>_<43 base64url>` and nothing else.
        let secret = "A".repeat(TOKEN_SECRET_CHARS);
        assert_eq!(
            split_token(&format!("ets_0123abcd_{secret}")),
            Some(("0123abcd", secret.as_str()))
        );
        for bad in [
            format!("ets_0123abcd{secret}"),
            format!("ets_0123ABCD_{secret}"),
            format!("etx_0123abcd_{secret}"),
            format!("ets_0123abcd_{secret}A"),
            "ets_".to_owned(),
            "ets_é1234567_x".to_owned(),
        ] {
            assert_eq!(split_token(&bad), None, "{bad}");
        }
    }

    #[test]
    fn common_repeated_sequential_and_name_passwords_are_refused() {
        // Goal: the policy refuses guessable passwords of any length and
        // accepts an ordinary long one.
        for (name, password) in [
            ("alice", "Password1234"),
            ("alice", "aaaaaaaaaaaaaa"),
            ("alice", "abcdefghijklmn"),
            ("alice", "alice-is-my-name"),
        ] {
            let refused = check_password_strength(name, password);
            assert!(
                matches!(refused, Err(UsersError::WeakPassword { .. })),
                "{password}"
            );
        }
        assert!(check_password_strength("alice", "correct horse battery staple").is_ok());
    }

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        // Goal: equal slices match; a difference anywhere or in length does not.
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
