//! What a template says about how to build a function, as typed settings: the resource's
//! `Metadata` (`BuildMethod`, `BuildProperties`, `BuildArchitecture`) and the architecture
//! the code is built for. A value of the wrong type is an error naming the function and
//! the property, never a silently ignored setting.

use serde_json::Value;

use crate::BuildError;

/// The processor architecture a function is built for (`Architectures`, or
/// `Metadata: BuildArchitecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Architecture {
    /// Lambda's default.
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    /// The architecture for a template name: `x86_64` or `arm64`.
    pub fn from_name(name: &str) -> Option<Architecture> {
        match name {
            "x86_64" => Some(Architecture::X86_64),
            "arm64" => Some(Architecture::Arm64),
            _ => None,
        }
    }

    /// The name as templates write it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The architecture of the machine this runs on, when it is one Lambda has.
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Architecture::X86_64),
            "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }

    /// `GOARCH` for this architecture.
    pub(crate) fn goarch(self) -> &'static str {
        match self {
            Architecture::X86_64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The Rust target triple of a Linux binary for this architecture.
    pub(crate) fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The name of the `binfmt_misc` entry through which the kernel runs this
    /// architecture's binaries on another one (qemu-user, as Docker Desktop sets up).
    fn emulator_entry(self) -> &'static str {
        match self {
            Architecture::X86_64 => "qemu-x86_64",
            Architecture::Arm64 => "qemu-aarch64",
        }
    }

    /// Whether this host can run binaries built for this architecture: its own, or one
    /// it emulates.
    pub(crate) fn runs_here(self) -> bool {
        Architecture::host() == Some(self)
            || std::path::Path::new("/proc/sys/fs/binfmt_misc")
                .join(self.emulator_entry())
                .is_file()
    }
}

/// `Metadata: BuildProperties`, as `sam build` reads them. Keys are matched without regard
/// to case, as SAM does when it turns them into its builders' snake-case options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildProperties {
    /// esbuild: the files to bundle, relative to the code folder; without it, the handler's
    /// file (`app` for `app.lambdaHandler`).
    pub entry_points: Option<Vec<String>>,
    /// esbuild: `--minify` (SAM minifies unless told `false`).
    pub minify: Option<bool>,
    /// esbuild: `--target` (SAM's default is `es2020`).
    pub target: Option<String>,
    /// esbuild: `--sourcemap`.
    pub sourcemap: Option<bool>,
    /// esbuild: `--sources-content`.
    pub sources_content: Option<bool>,
    /// esbuild: one `--external:NAME` each.
    pub external: Vec<String>,
    /// esbuild: `--format` (SAM's default is `cjs`).
    pub format: Option<String>,
    /// esbuild: one `--out-extension:.js=.mjs` each.
    pub out_extension: Vec<String>,
    /// esbuild: one `--banner:js=…` each.
    pub banner: Vec<String>,
    /// esbuild: one `--loader:.png=file` each.
    pub loader: Vec<String>,
    /// esbuild: `--main-fields`.
    pub main_fields: Option<String>,
    /// npm and esbuild: `npm ci` instead of `npm install` when there is a lock file.
    pub use_npm_ci: bool,
    /// rust-cargolambda: the binary to build when the package or workspace has several.
    pub binary: Option<String>,
    /// go1.x: `go build -trimpath`.
    pub trim_go_path: bool,
    /// Properties no build method reads, for a warning (a typo such as `Minfy`).
    pub unknown: Vec<String>,
}

impl BuildProperties {
    /// Reads a `BuildProperties` map; `Null` (absent) means no properties.
    pub fn from_json(logical_id: &str, value: &Value) -> Result<BuildProperties, BuildError> {
        let mut properties = BuildProperties::default();
        let map = match value {
            Value::Null => return Ok(properties),
            Value::Object(map) => map,
            other => {
                return Err(invalid(
                    logical_id,
                    "Metadata.BuildProperties",
                    "a map of properties",
                    other,
                ))
            }
        };
        for (key, value) in map {
            let field = format!("Metadata.BuildProperties.{key}");
            let field = field.as_str();
            match key.to_ascii_lowercase().as_str() {
                "entrypoints" => properties.entry_points = Some(strings(logical_id, field, value)?),
                "minify" => properties.minify = Some(boolean(logical_id, field, value)?),
                "target" => properties.target = Some(joined(logical_id, field, value)?),
                "sourcemap" => properties.sourcemap = Some(boolean(logical_id, field, value)?),
                "sourcescontent" => {
                    properties.sources_content = Some(boolean(logical_id, field, value)?)
                }
                "external" => properties.external = strings(logical_id, field, value)?,
                "format" => properties.format = Some(string(logical_id, field, value)?),
                "outextension" => properties.out_extension = strings(logical_id, field, value)?,
                "banner" => properties.banner = strings(logical_id, field, value)?,
                "loader" => properties.loader = strings(logical_id, field, value)?,
                "mainfields" => properties.main_fields = Some(joined(logical_id, field, value)?),
                "usenpmci" => properties.use_npm_ci = boolean(logical_id, field, value)?,
                "binary" => properties.binary = Some(string(logical_id, field, value)?),
                "trimgopath" => properties.trim_go_path = boolean(logical_id, field, value)?,
                _ => properties.unknown.push(key.clone()),
            }
        }
        Ok(properties)
    }
}

/// Reads the build settings of a resource's `Metadata` into `request`: `BuildMethod`,
/// `BuildProperties` and `BuildArchitecture` (which overrides `Architectures`).
pub(crate) fn read_metadata(
    request: &mut crate::BuildRequest,
    metadata: &Value,
) -> Result<(), BuildError> {
    let logical_id = request.logical_id.clone();
    let map = match metadata {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        // SAM templates only ever put a map here; anything else carries no build settings.
        _ => return Ok(()),
    };
    if let Some(value) = map.get("BuildMethod") {
        request.build_method = Some(string(&logical_id, "Metadata.BuildMethod", value)?);
    }
    if let Some(value) = map.get("BuildProperties") {
        request.properties = BuildProperties::from_json(&logical_id, value)?;
    }
    if let Some(value) = map.get("BuildArchitecture") {
        let name = string(&logical_id, "Metadata.BuildArchitecture", value)?;
        request.architecture = Architecture::from_name(&name).ok_or_else(|| {
            invalid(
                &logical_id,
                "Metadata.BuildArchitecture",
                "x86_64 or arm64",
                value,
            )
        })?;
    }
    Ok(())
}

fn invalid(logical_id: &str, field: &str, expected: &str, found: &Value) -> BuildError {
    BuildError::InvalidMetadata {
        logical_id: logical_id.to_owned(),
        field: field.to_owned(),
        expected: expected.to_owned(),
        found: describe(found),
    }
}

/// A value as an error message shows it: its type, and the value when short.
fn describe(value: &Value) -> String {
    let text = value.to_string();
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "the boolean",
        Value::Number(_) => "the number",
        Value::String(_) => "the string",
        Value::Array(_) => "the list",
        Value::Object(_) => "the map",
    };
    const SHOWN: usize = 40;
    if text.len() <= SHOWN {
        return format!("{kind} {text}");
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{kind} {}…", &text[..end])
}

fn string(logical_id: &str, field: &str, value: &Value) -> Result<String, BuildError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        other => Err(invalid(logical_id, field, "a string", other)),
    }
}

/// `true`/`false`, also as the strings a template parameter (`!Ref`) resolves to.
fn boolean(logical_id: &str, field: &str, value: &Value) -> Result<bool, BuildError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(invalid(logical_id, field, "true or false", other)),
    }
}

/// A list of strings; a single string is a list of one.
fn strings(logical_id: &str, field: &str, value: &Value) -> Result<Vec<String>, BuildError> {
    let expected = "a list of strings";
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(invalid(logical_id, field, expected, other)),
            })
            .collect(),
        other => Err(invalid(logical_id, field, expected, other)),
    }
}

/// A string, or a list of strings joined with commas (esbuild's `--target=es2020,node18`).
fn joined(logical_id: &str, field: &str, value: &Value) -> Result<String, BuildError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Array(_) => Ok(strings(logical_id, field, value)?.join(",")),
        other => Err(invalid(
            logical_id,
            field,
            "a string or a list of strings",
            other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn esbuild_properties_as_sam_init_writes_them() {
        let properties = BuildProperties::from_json(
            "Fn",
            &json!({
                "Minify": true,
                "Target": "es2020",
                "Sourcemap": "false",
                "EntryPoints": ["app.ts"],
                "External": ["@aws-sdk/*"],
                "Loader": ".png=file",
                "MainFields": ["module", "main"],
                "useNpmCi": true,
                "Minfy": false,
            }),
        )
        .expect("valid properties");
        assert_eq!(
            properties,
            BuildProperties {
                entry_points: Some(vec!["app.ts".to_owned()]),
                minify: Some(true),
                target: Some("es2020".to_owned()),
                sourcemap: Some(false),
                external: vec!["@aws-sdk/*".to_owned()],
                loader: vec![".png=file".to_owned()],
                main_fields: Some("module,main".to_owned()),
                use_npm_ci: true,
                unknown: vec!["Minfy".to_owned()],
                ..BuildProperties::default()
            }
        );
    }

    #[test]
    fn a_property_of_the_wrong_type_names_the_function_and_property() {
        let error = BuildProperties::from_json("Api", &json!({"Minify": "yes"}))
            .expect_err("not a boolean");
        assert_eq!(
            error.to_string(),
            "cannot build Api: Metadata.BuildProperties.Minify must be true or false, not the string \"yes\""
        );
        let error = BuildProperties::from_json("Api", &json!({"EntryPoints": [1]}))
            .expect_err("not strings");
        assert_eq!(
            error.to_string(),
            "cannot build Api: Metadata.BuildProperties.EntryPoints must be a list of strings, not the number 1"
        );
        let error = BuildProperties::from_json("Api", &json!(["Minify"])).expect_err("not a map");
        assert!(
            error
                .to_string()
                .contains("Metadata.BuildProperties must be a map of properties"),
            "{error}"
        );
    }

    #[test]
    fn metadata_sets_method_properties_and_architecture() {
        let mut request = crate::BuildRequest::new("Fn", "provided.al2023", "/code");
        read_metadata(
            &mut request,
            &json!({"BuildMethod": "go1.x", "BuildArchitecture": "arm64", "BuildProperties": {"TrimGoPath": true}}),
        )
        .expect("valid metadata");
        assert_eq!(request.build_method.as_deref(), Some("go1.x"));
        assert_eq!(request.architecture, Architecture::Arm64);
        assert!(request.properties.trim_go_path);

        let error = read_metadata(&mut request, &json!({"BuildArchitecture": "riscv"}))
            .expect_err("not a Lambda architecture");
        assert_eq!(
            error.to_string(),
            "cannot build Fn: Metadata.BuildArchitecture must be x86_64 or arm64, not the string \"riscv\""
        );
        let error = read_metadata(&mut request, &json!({"BuildMethod": ["esbuild"]}))
            .expect_err("not a string");
        assert!(
            error
                .to_string()
                .contains("Metadata.BuildMethod must be a string"),
            "{error}"
        );
    }
}
