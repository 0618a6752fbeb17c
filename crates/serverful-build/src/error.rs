//! The errors a build can end with, one variant per thing the user has to fix.

use std::io;
use std::path::PathBuf;

/// Why building a function failed. Every variant names the function so the binary can
/// print one self-contained `error:` line (plus the tool's output for [`BuildError::ToolFailed`]).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A program the build needs is not installed (or not on PATH).
    #[error("cannot build {logical_id}: `{tool}` was not found; {hint}")]
    ToolMissing {
        logical_id: String,
        /// The program, e.g. `pip`, `npm`, `make`.
        tool: String,
        /// What to install, in a form that can follow `hint: `.
        hint: String,
    },
    /// A build tool ran and failed.
    #[error("building {logical_id} failed: `{command}` {status}\n{output}")]
    ToolFailed {
        logical_id: String,
        /// The command line as the user could retype it.
        command: String,
        /// How it ended: `exited with status 1`, `was killed by signal 9`.
        status: String,
        /// The tool's combined stdout and stderr (its tail, when very long).
        output: String,
    },
    /// `BuildMethod: makefile` but the code folder has no `Makefile`.
    #[error("cannot build {logical_id}: BuildMethod is makefile but {} has no Makefile", .code_dir.display())]
    MakefileMissing {
        logical_id: String,
        code_dir: PathBuf,
    },
    /// The Makefile exists but has no `build-<LogicalId>` target.
    #[error("cannot build {logical_id}: {} has no target `{target}` (BuildMethod makefile runs `make {target}` with ARTIFACTS_DIR set)", .makefile.display())]
    MakeTargetMissing {
        logical_id: String,
        target: String,
        makefile: PathBuf,
    },
    /// `Metadata: BuildMethod` names no build method this crate has.
    #[error("cannot build {logical_id}: BuildMethod {method} does not exist; use one of {known}, or the runtime's own name ({runtime}) for its default build")]
    UnknownBuildMethod {
        logical_id: String,
        method: String,
        runtime: String,
        /// The methods that exist, comma-separated.
        known: String,
    },
    /// A `Metadata` value (a build property, the build method or architecture) has the
    /// wrong type or an impossible value.
    #[error("cannot build {logical_id}: {field} must be {expected}, not {found}")]
    InvalidMetadata {
        logical_id: String,
        /// Where the value sits: `Metadata.BuildProperties.Minify`.
        field: String,
        /// What it must be: `true or false`.
        expected: String,
        /// What it is: `the string "yes"`.
        found: String,
    },
    /// The build method needs a manifest the code folder does not have (a `Gemfile` for
    /// bundler, a `Cargo.toml` for rust-cargolambda).
    #[error("cannot build {logical_id}: BuildMethod is {method} but {} has no {manifest}", .code_dir.display())]
    ManifestMissing {
        logical_id: String,
        method: String,
        manifest: String,
        code_dir: PathBuf,
    },
    /// An esbuild entry point (from `EntryPoints`, or the handler's file) does not exist.
    #[error("cannot build {logical_id}: the esbuild entry point {entry_point} is not in {} (set Metadata.BuildProperties.EntryPoints to files in the code folder)", .code_dir.display())]
    EntryPointMissing {
        logical_id: String,
        entry_point: String,
        code_dir: PathBuf,
    },
    /// The Rust binary to build cannot be chosen: none, several without `Binary`, or a
    /// `Binary` the package does not have.
    #[error("cannot build {logical_id}: {reason}")]
    CargoBinary { logical_id: String, reason: String },
    /// `CodeUri` names a file that is not a package that can be unpacked, or a package
    /// that is broken or reaches outside its folder.
    #[error("cannot build {logical_id}: {}: {problem}", .path.display())]
    BadPackage {
        logical_id: String,
        path: PathBuf,
        problem: String,
    },
    /// A build tool succeeded but did not make what the function is built from.
    #[error("cannot build {logical_id}: `{tool}` made no {}; {hint}", .path.display())]
    MissingOutput {
        logical_id: String,
        tool: String,
        path: PathBuf,
        /// What to check, in a form that can follow `; `.
        hint: String,
    },
    /// The function's code folder does not exist.
    #[error("cannot build {logical_id}: code folder {} does not exist", .code_dir.display())]
    CodeDirMissing {
        logical_id: String,
        code_dir: PathBuf,
    },
    /// A layer's `ContentUri` folder does not exist.
    #[error("cannot build layer {logical_id}: its folder {} does not exist; point ContentUri (Content for AWS::Lambda::LayerVersion) at the folder that holds the layer's files", .content_dir.display())]
    LayerContentMissing {
        logical_id: String,
        content_dir: PathBuf,
    },
    /// The logical id cannot be used as a folder name (CloudFormation ids are alphanumeric).
    #[error("cannot build {logical_id:?}: a logical id must be non-empty and alphanumeric")]
    InvalidLogicalId { logical_id: String },
    /// Reading sources or writing the build folder failed.
    #[error("building {logical_id} failed to {action}: {source}")]
    Io {
        logical_id: String,
        /// An action phrase: `copy the source into …`, `read requirements.txt`.
        action: String,
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    /// The function whose build failed.
    pub fn logical_id(&self) -> &str {
        match self {
            BuildError::ToolMissing { logical_id, .. }
            | BuildError::ToolFailed { logical_id, .. }
            | BuildError::MakefileMissing { logical_id, .. }
            | BuildError::MakeTargetMissing { logical_id, .. }
            | BuildError::UnknownBuildMethod { logical_id, .. }
            | BuildError::InvalidMetadata { logical_id, .. }
            | BuildError::ManifestMissing { logical_id, .. }
            | BuildError::EntryPointMissing { logical_id, .. }
            | BuildError::CargoBinary { logical_id, .. }
            | BuildError::CodeDirMissing { logical_id, .. }
            | BuildError::LayerContentMissing { logical_id, .. }
            | BuildError::BadPackage { logical_id, .. }
            | BuildError::MissingOutput { logical_id, .. }
            | BuildError::InvalidLogicalId { logical_id }
            | BuildError::Io { logical_id, .. } => logical_id,
        }
    }
}
