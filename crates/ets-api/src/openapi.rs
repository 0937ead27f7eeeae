//! The OpenAPI 3.1 document of the HTTP API, generated from the route
//! declarations (`route`), the command shapes (each family's serde enum,
//! whose JSON Schema `schemars` derives) with their [`CommandSpec`]s, the
//! refusal table and the views. Nothing in it is written by hand but prose,
//! so it cannot drift from what the server parses and answers.

use crate::authority::{CommandSpec, command_spec};
use crate::refusal::RefusalCode;
use crate::route::{Answer, Audience, Body, RouteSpec, Verb};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use std::collections::BTreeMap;

/// The document's `info`.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// Its title.
    pub title: &'static str,
    /// The API's version.
    pub version: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More.
    pub description: &'static str,
}

/// A tag grouping operations.
#[derive(Debug, Clone, Serialize)]
pub struct Tag {
    /// Its name.
    pub name: &'static str,
    /// What it groups.
    pub description: &'static str,
}

/// Security requirement: scheme name to scopes (none).
pub type SecurityRequirement = BTreeMap<&'static str, [&'static str; 0]>;

/// A parameter of an operation.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// Its name.
    pub name: &'static str,
    /// `path`, `query` or `header`.
    #[serde(rename = "in")]
    pub location: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
}

/// A body or response content of one media type.
#[derive(Debug, Clone, Serialize)]
pub struct MediaType {
    /// Its schema.
    pub schema: Schema,
}

/// A request body.
#[derive(Debug, Clone, Serialize)]
pub struct RequestBody {
    /// Whether it must be sent.
    pub required: bool,
    /// What it is.
    pub description: &'static str,
    /// By media type.
    pub content: BTreeMap<&'static str, MediaType>,
}

/// A response header.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// What it says.
    pub description: &'static str,
    /// Its schema.
    pub schema: Schema,
}

/// One response of an operation.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// What it means (for refusals: every code it can carry).
    pub description: String,
    /// Headers it may carry.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<&'static str, Header>,
    /// Its body by media type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<&'static str, MediaType>,
}

/// One operation (a method on a path).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// A unique id.
    pub operation_id: String,
    /// Its tags.
    pub tags: [&'static str; 1],
    /// One line.
    pub summary: &'static str,
    /// More.
    pub description: &'static str,
    /// Who may call it: empty for anyone.
    pub security: Vec<SecurityRequirement>,
    /// Its parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Its body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBody>,
    /// Its responses by status.
    pub responses: BTreeMap<String, Response>,
}

/// The operations of one path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PathItem {
    /// GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get: Option<Operation>,
    /// POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<Operation>,
}

/// A security scheme.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityScheme {
    /// Always `http`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `bearer` or `basic`.
    pub scheme: &'static str,
    /// For bearer tokens, their form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_format: Option<&'static str>,
    /// How to get credentials.
    pub description: &'static str,
}

/// The document's components.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Components {
    /// The credentials the API takes.
    pub security_schemes: BTreeMap<&'static str, SecurityScheme>,
    /// Every named schema.
    pub schemas: BTreeMap<String, Schema>,
}

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// `3.1.0`.
    pub openapi: &'static str,
    /// What it describes.
    pub info: Info,
    /// Its groups.
    pub tags: Vec<Tag>,
    /// Operations by path.
    pub paths: BTreeMap<&'static str, PathItem>,
    /// Shared definitions.
    pub components: Components,
}

/// The envelope every command line carries besides its command's fields.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Envelope {
    /// The client's id for this request: a repeated id gets its first outcome.
    request_id: u64,
    /// The participant sending it: the user's own.
    requester: u64,
    /// The time the command carries (RFC 3339); a live store stamps its own.
    #[schemars(default, with = "Option<crate::schema::TimeText>")]
    time: Option<String>,
}

/// The body of every refusal the server answers by itself.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Error {
    /// Always `false`.
    ok: crate::outcome::Always<false>,
    /// The stable code.
    code: String,
    /// What went wrong, for people.
    message: String,
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| settings.definitions_path = "/components/schemas".into())
        .with_transform(bound_integers)
        .into_generator()
}

/// Gives each fixed-width integer its true range (schemars gives only the
/// minimum of unsigned ones), so clients and fuzzers know the limits.
fn bound_integers(schema: &mut Schema) {
    let range: Option<(i128, i128)> = match schema.get("format").and_then(|f| f.as_str()) {
        Some("uint64") => Some((0, i128::from(u64::MAX))),
        Some("int64") => Some((i128::from(i64::MIN), i128::from(i64::MAX))),
        Some("uint32") => Some((0, i128::from(u32::MAX))),
        Some("int32") => Some((i128::from(i32::MIN), i128::from(i32::MAX))),
        Some("uint") => Some((0, i128::from(u64::MAX))),
        _ => None,
    };
    if let Some((low, high)) = range {
        if schema.get("minimum").is_none() {
            schema.insert("minimum".into(), serde_json::Number::from_i128(low).into());
        }
        if schema.get("maximum").is_none() {
            schema.insert("maximum".into(), serde_json::Number::from_i128(high).into());
        }
    }
    schemars::transform::transform_subschemas(&mut bound_integers, schema);
}

/// The schema names of the command alternatives, with their specs, after
/// adding each family's alternatives (envelope merged in) to `schemas`.
fn command_alternatives(
    generator: &mut SchemaGenerator,
    schemas: &mut BTreeMap<String, Schema>,
) -> Vec<(String, &'static CommandSpec)> {
    let mut envelope = Envelope::json_schema(generator);
    bound_integers(&mut envelope);
    let mut names = Vec::new();
    for mut family in crate::request::command_family_schemas(generator) {
        bound_integers(&mut family);
        let alternatives = family
            .get("oneOf")
            .and_then(|one_of| one_of.as_array())
            .cloned()
            .unwrap_or_default();
        for alternative in alternatives {
            let Ok(mut schema) = Schema::try_from(alternative) else {
                continue;
            };
            let Some(name) = schema
                .get("properties")
                .and_then(|p| p.get("command"))
                .and_then(|c| c.get("const"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(spec) = command_spec(&name) else {
                continue;
            };
            merge_envelope(&mut schema, &envelope, spec);
            let title = pascal_case(&name);
            schemas.insert(title.clone(), schema);
            names.push((title, spec));
        }
    }
    names
}

/// Puts the envelope's properties first and says who may send the command.
fn merge_envelope(schema: &mut Schema, envelope: &Schema, spec: &CommandSpec) {
    let mut properties = envelope
        .get("properties")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    if let Some(own) = schema.get("properties").and_then(|p| p.as_object()) {
        properties.extend(own.clone());
    }
    let mut required: Vec<serde_json::Value> = envelope
        .get("required")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    if let Some(own) = schema.get("required").and_then(|r| r.as_array()) {
        required.extend(own.iter().cloned());
    }
    let said = schema
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or("")
        .to_owned();
    schema.insert("properties".into(), properties.into());
    schema.insert("required".into(), required.into());
    schema.insert(
        "description".into(),
        format!("{said}\n\nSent by {}.", spec.senders.description)
            .trim()
            .into(),
    );
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

fn reference(name: &str) -> Schema {
    json_schema!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The responses of `route`: its success and one per refusal status, each
/// naming every code it can carry.
fn responses(route: &RouteSpec, generator: &mut SchemaGenerator) -> BTreeMap<String, Response> {
    let mut responses = BTreeMap::new();
    responses.insert("200".to_owned(), success(route, generator));
    let mut by_status: BTreeMap<u16, Vec<RefusalCode>> = BTreeMap::new();
    for code in route.refusals() {
        by_status.entry(code.http_status()).or_default().push(code);
    }
    let error_schema = if route.body == Body::Command {
        json_schema!({ "anyOf": [reference("Error"), reference("OutcomeLine")] })
    } else {
        reference("Error")
    };
    for (status, codes) in by_status {
        let mut description = codes
            .iter()
            .map(|code| format!("`{code}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if route.body == Body::Command && matches!(status, 404 | 422) {
            description.push_str(if status == 404 {
                ", or another `unknown_*` code of the engine"
            } else {
                ", or any other rule of the engine the command breaks (its code names it)"
            });
        }
        let mut headers = BTreeMap::new();
        if matches!(status, 429 | 503) {
            headers.insert(
                "Retry-After",
                Header {
                    description: "Seconds to wait before trying again.",
                    schema: json_schema!({ "type": "integer", "minimum": 1 }),
                },
            );
        }
        if status == 401 {
            headers.insert(
                "WWW-Authenticate",
                Header {
                    description: "The schemes the server takes (`Bearer`, and `Basic` when enabled).",
                    schema: json_schema!({ "type": "string" }),
                },
            );
        }
        responses.insert(
            status.to_string(),
            Response {
                description: format!("Refused: {description}."),
                headers,
                content: BTreeMap::from([(
                    "application/json",
                    MediaType {
                        schema: error_schema.clone(),
                    },
                )]),
            },
        );
    }
    responses
}

fn success(route: &RouteSpec, generator: &mut SchemaGenerator) -> Response {
    let (media, schema, description) = match route.answer {
        Answer::Json(schema_of) => ("application/json", schema_of(generator), "Done.".to_owned()),
        Answer::Text(media) => (
            media,
            json_schema!({ "type": "string" }),
            "The text.".to_owned(),
        ),
        Answer::EventStream(events) => (
            "text/event-stream",
            json_schema!({ "type": "string" }),
            format!("A stream of Server-Sent Events: {events}. Each `data:` is one JSON object."),
        ),
    };
    Response {
        description,
        headers: BTreeMap::new(),
        content: BTreeMap::from([(media, MediaType { schema })]),
    }
}

fn parameters(route: &RouteSpec) -> Vec<Parameter> {
    let mut parameters: Vec<Parameter> = route
        .parameters
        .iter()
        .map(|parameter| Parameter {
            name: parameter.name,
            location: "path",
            description: parameter.description,
            required: true,
            schema: json_schema!({
                "type": "integer", "format": "uint64",
                "minimum": 0, "maximum": u64::MAX,
            }),
        })
        .collect();
    parameters.extend(
        crate::route::query_parameters(route.path)
            .iter()
            .map(|parameter| Parameter {
                name: parameter.name,
                location: "query",
                description: parameter.description,
                required: parameter.required,
                schema: query_schema(parameter.value),
            }),
    );
    if route.body == Body::Command {
        parameters.push(Parameter {
            name: "Idempotency-Key",
            location: "header",
            description: "When sent, the body's `request_id` in decimal.",
            required: false,
            schema: json_schema!({ "type": "string", "pattern": "^[0-9]+$" }),
        });
    }
    parameters
}

fn query_schema(value: crate::route::QueryValue) -> Schema {
    match value {
        crate::route::QueryValue::Whole { min, max } => json_schema!({
            "type": "integer", "format": "int64", "minimum": min, "maximum": max,
        }),
        crate::route::QueryValue::Time => {
            json_schema!({ "type": "string", "format": "date-time" })
        }
        crate::route::QueryValue::OneOf(words) => json_schema!({ "type": "string", "enum": words }),
        crate::route::QueryValue::Text { max } => {
            json_schema!({ "type": "string", "minLength": 1, "maxLength": max })
        }
    }
}

fn request_body(route: &RouteSpec) -> Option<RequestBody> {
    let command = || MediaType {
        schema: reference("Command"),
    };
    let lines = || MediaType {
        schema: json_schema!({
            "description": "Any text: each non-blank line should be one `Command`; a line that is not gets its own refusal in the answer (with its `line` number), and the others still run.",
        }),
    };
    match route.body {
        Body::None => None,
        Body::Command => Some(RequestBody {
            required: true,
            description: "One command.",
            content: BTreeMap::from([("application/json", command())]),
        }),
        Body::CommandLines => Some(RequestBody {
            required: true,
            description: "JSON lines, one command each, sent as `application/json` (a single command is a batch of one) or `application/x-ndjson`.",
            content: BTreeMap::from([("application/json", lines())]),
        }),
    }
}

fn operation(route: &RouteSpec, generator: &mut SchemaGenerator) -> Operation {
    let security = match route.audience {
        Audience::Public => Vec::new(),
        Audience::User => vec![
            SecurityRequirement::from([("bearerAuth", [])]),
            SecurityRequirement::from([("basicAuth", [])]),
        ],
    };
    Operation {
        operation_id: format!(
            "{}{}",
            route.verb.as_str().to_lowercase(),
            pascal_case(
                &route
                    .path
                    .replace(['/', '.', '-'], "_")
                    .replace(['{', '}'], "")
            )
        ),
        tags: [route.tag],
        summary: route.summary,
        description: route.description,
        security,
        parameters: parameters(route),
        request_body: request_body(route),
        responses: responses(route, generator),
    }
}

fn security_schemes() -> BTreeMap<&'static str, SecurityScheme> {
    BTreeMap::from([
        (
            "bearerAuth",
            SecurityScheme {
                kind: "http",
                scheme: "bearer",
                bearer_format: Some("ets_<8 hex id>_<43 base64url secret>"),
                description: "An API token from `ets user token`.",
            },
        ),
        (
            "basicAuth",
            SecurityScheme {
                kind: "http",
                scheme: "basic",
                bearer_format: None,
                description: "User name and password from `ets user add`, when the server was started with Basic authentication on (off by default).",
            },
        ),
    ])
}

const TAGS: [Tag; 6] = [
    Tag {
        name: "commands",
        description: "Commands, answered once durable.",
    },
    Tag {
        name: "registry",
        description: "Accounts, transactions, serials, participants.",
    },
    Tag {
        name: "market",
        description: "Public market data.",
    },
    Tag {
        name: "compliance",
        description: "Compliance results and emissions reports.",
    },
    Tag {
        name: "streams",
        description: "Server-Sent Events.",
    },
    Tag {
        name: "operations",
        description: "Health, metrics and this document.",
    },
];

/// The OpenAPI document of the server whose routes are `routes`.
#[must_use]
pub fn document(routes: &[&RouteSpec]) -> Document {
    let mut generator = generator();
    let mut paths: BTreeMap<&'static str, PathItem> = BTreeMap::new();
    for route in routes {
        let operation = operation(route, &mut generator);
        let item = paths.entry(route.path).or_default();
        match route.verb {
            Verb::Get => item.get = Some(operation),
            Verb::Post => item.post = Some(operation),
        }
    }
    generator.subschema_for::<Error>();
    generator.subschema_for::<crate::outcome::OutcomeLine>();
    let mut schemas: BTreeMap<String, Schema> = generator
        .take_definitions(true)
        .into_iter()
        .filter_map(|(name, schema)| Some((name, Schema::try_from(schema).ok()?)))
        .collect();
    let commands = command_alternatives(&mut generator, &mut schemas);
    let one_of: Vec<Schema> = commands.iter().map(|(name, _)| reference(name)).collect();
    schemas.insert(
        "Command".to_owned(),
        json_schema!({
            "description": "One command line: the envelope (`request_id`, `requester`, optional `time`) and one command's fields, named by `command`.",
            "oneOf": one_of,
        }),
    );
    for (name, schema) in generator.take_definitions(true) {
        if let Ok(schema) = Schema::try_from(schema) {
            schemas.entry(name).or_insert(schema);
        }
    }
    Document {
        openapi: "3.1.0",
        info: Info {
            title: "openets API",
            version: env!("CARGO_PKG_VERSION"),
            summary: "The HTTP/JSON API of the openets emissions trading registry.",
            description: "Commands go through one sequencer and are answered only after they are durable (group commit). Every refusal is JSON `{\"ok\": false, \"code\", \"message\"}` with a stable code; each response below names the codes it can carry. See docs/api.md and docs/commands.md.",
        },
        tags: TAGS.to_vec(),
        paths,
        components: Components {
            security_schemes: security_schemes(),
            schemas,
        },
    }
}
