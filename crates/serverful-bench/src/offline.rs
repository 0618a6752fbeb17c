//! serverless-offline as a contender of the invoke benchmark: `serverless offline`
//! (the Serverless Framework v3 with the serverless-offline plugin, as
//! `bench/install-peers.sh` installs them) serving the very Node.js handler file the
//! serverful Node.js contender runs, through an `httpApi` route of the same path.
//!
//! The manifest is written beside the SAM template of the Lambda-mode app (serverful
//! reads only `template.yaml`), and names the plugin by its installed folder
//! (`plugins.localPath`) so that no `node_modules` link has to sit in the app.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The manifest's file name, beside the SAM template.
pub const MANIFEST: &str = "serverless.yml";

/// The route, the same as the serverful Node.js contender's.
pub const ROUTE: &str = "/node";

/// How serverless-offline runs the handler: `--useInProcess` loads it once into the
/// server's own process and calls it there, the least work per request of its modes
/// (the default starts a worker thread per concurrent request and hands the event and the
/// answer across; `--reloadHandler`, off here, would load the handler again per request).
pub const MODE_FLAGS: [&str; 1] = ["--useInProcess"];

/// What the report calls the mode.
pub const MODE: &str = "in process (`--useInProcess`)";

/// The environment `serverless offline` runs with: no prompts, notifications, telemetry
/// or deprecation notices, and dummy AWS credentials (nothing is deployed).
pub const ENVIRONMENT: [(&str, &str); 6] = [
    ("SLS_TELEMETRY_DISABLED", "1"),
    ("SLS_NOTIFICATIONS_MODE", "off"),
    ("SLS_DEPRECATION_DISABLE", "*"),
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
    ("AWS_REGION", "us-east-1"),
];

/// Where the install script put the two packages: the `node_modules` folder that holds
/// them.
#[derive(Debug, Clone)]
pub struct Installed {
    pub node_modules: PathBuf,
}

impl Installed {
    /// Finds `serverless` and `serverless-offline` under `PEERS/serverless/node_modules`.
    pub fn find(peers: &Path) -> anyhow::Result<Installed> {
        let node_modules = peers.join("serverless/node_modules");
        let installed = Installed { node_modules };
        if !installed.cli().is_file() || !installed.node_modules.join("serverless-offline").is_dir()
        {
            bail!(
                "serverless and serverless-offline are not installed in {}\nhint: run `bash bench/install-peers.sh` (bench/invoke.sh does when the offline contender is selected)",
                installed.node_modules.display()
            );
        }
        Ok(installed)
    }

    /// The Serverless Framework's command-line entry point.
    pub fn cli(&self) -> PathBuf {
        self.node_modules.join("serverless/bin/serverless.js")
    }

    /// `serverless 3.x.y`, `serverless-offline 13.x.y`, from their manifests.
    pub fn versions(&self) -> Vec<String> {
        ["serverless", "serverless-offline"]
            .into_iter()
            .filter_map(|package| {
                let manifest = self.node_modules.join(package).join("package.json");
                let value: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(manifest).ok()?).ok()?;
                Some(format!("{package} {}", value["version"].as_str()?))
            })
            .collect()
    }

    /// Writes `serverless.yml` into `app`, whose `node/index.js` is the handler.
    pub fn write_manifest(&self, app: &Path) -> anyhow::Result<PathBuf> {
        let path = app.join(MANIFEST);
        std::fs::write(&path, manifest(&self.node_modules))
            .with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// `node serverless.js offline start` in `app` on the given loopback ports, routes
    /// without the stage prefix.
    pub fn command(&self, app: &Path, http_port: u16, lambda_port: u16) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("node");
        command
            .arg(self.cli())
            .args(["offline", "start", "--host", "127.0.0.1", "--httpPort"])
            .arg(http_port.to_string())
            .arg("--lambdaPort")
            .arg(lambda_port.to_string())
            .arg("--noPrependStageInUrl")
            .args(MODE_FLAGS)
            .current_dir(app)
            .envs(ENVIRONMENT);
        command
    }
}

/// The manifest: one function on the Node.js handler, one `httpApi` route.
fn manifest(node_modules: &Path) -> String {
    format!(
        "service: bench-invoke
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
  memorySize: 128
  timeout: 10
functions:
  node:
    handler: node/index.handler
    events:
      - httpApi:
          path: {ROUTE}
          method: GET
plugins:
  localPath: '{}'
  modules:
    - serverless-offline
",
        node_modules.display()
    )
}

/// The address of serverless-offline's `Server ready: http://127.0.0.1:PORT` line.
pub fn ready_address(stdout: &str) -> Option<SocketAddr> {
    stdout.lines().find_map(|line| {
        let rest = line.split("Server ready: http://").nth(1)?;
        let authority = rest.split(|c: char| c == '/' || c.is_whitespace()).next()?;
        authority.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        let stdout = "Starting Offline at stage dev (us-east-1)\nOffline [http for lambda] listening on http://127.0.0.1:39124\nServer ready: http://127.0.0.1:39123 🚀\n";
        assert_eq!(
            ready_address(stdout),
            Some("127.0.0.1:39123".parse().expect("address"))
        );
        assert_eq!(
            ready_address("Offline [http for lambda] listening on http://127.0.0.1:1\n"),
            None
        );
    }

    #[test]
    fn the_manifest_routes_the_node_handler() {
        let text = manifest(Path::new("/peers/serverless/node_modules"));
        assert!(text.contains("handler: node/index.handler"));
        assert!(text.contains("path: /node"));
        assert!(text.contains("localPath: '/peers/serverless/node_modules'"));
        assert!(text.contains("runtime: nodejs20.x"));
    }
}
