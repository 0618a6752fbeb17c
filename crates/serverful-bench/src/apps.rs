//! The SAM apps the bench functions run in, written into a scratch folder at run time:
//! one app with a Rust, a Node.js and a Python function in Lambda mode, one each for a
//! Ruby and a Java function (apps of their own, so that a host without Ruby or a JDK
//! fails only their rows), and one with a Node.js web server in HTTP mode. Every function
//! answers `GET` with [`HELLO_BODY`].
//!
//! [`HELLO_BODY`]: crate::HELLO_BODY

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The Lambda-mode app: `GET /rust`, `GET /node`, `GET /python`.
const LAMBDA_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Serverful invoke-path benchmark, Lambda mode

Globals:
  Function:
    Timeout: 10
    MemorySize: 128

Resources:
  RustFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: rust/
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /rust
            Method: GET
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node/
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /node
            Method: GET
  PythonFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: python/
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /python
            Method: GET
"#;

const NODE_HANDLER: &str = r#"exports.handler = async () => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: '{"message":"hello"}',
});
"#;

const PYTHON_HANDLER: &str = r#"def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": '{"message":"hello"}',
    }
"#;

/// The Ruby app: `GET /ruby`.
const RUBY_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Serverful invoke-path benchmark, Ruby

Resources:
  RubyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: ruby3.3
      Handler: app.handler
      CodeUri: ruby/
      Timeout: 10
      MemorySize: 128
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /ruby
            Method: GET
"#;

const RUBY_HANDLER: &str = r#"def handler(event:, context:)
  {
    statusCode: 200,
    headers: { 'content-type' => 'application/json' },
    body: '{"message":"hello"}'
  }
end
"#;

/// The Java app: `GET /java`, a plain static method compiled by the function's Makefile
/// with `javac` (no AWS library needed for a method that takes and returns a map).
const JAVA_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Serverful invoke-path benchmark, Java

Resources:
  JavaFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      Runtime: java21
      Handler: bench.Hello::handle
      CodeUri: java/
      Timeout: 10
      MemorySize: 512
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /java
            Method: GET
"#;

const JAVA_MAKEFILE: &str =
    "build-JavaFunction:\n\tjavac --release 11 -d \"$(ARTIFACTS_DIR)\" bench/Hello.java\n";

const JAVA_HANDLER: &str = r#"package bench;

import java.util.Map;

public class Hello {
    public static Map<String, Object> handle(Map<String, Object> event) {
        return Map.of(
            "statusCode", 200,
            "headers", Map.of("content-type", "application/json"),
            "body", "{\"message\":\"hello\"}");
    }
}
"#;

/// The HTTP-mode app: `GET /http`, proxied to a plain Node.js `http` server. The
/// function follows the Lambda Web Adapter conventions: `AWS_LWA_PORT` in its
/// environment, a `bootstrap` that starts the web server, which listens on `$PORT`.
const HTTP_MODE_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Serverful invoke-path benchmark, HTTP mode

Resources:
  WebFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: web/
      Timeout: 10
      MemorySize: 128
      Environment:
        Variables:
          AWS_LWA_PORT: "8080"
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /http
            Method: GET
"#;

const HTTP_MODE_BOOTSTRAP: &str = "#!/bin/sh\nexec node server.js\n";

const HTTP_MODE_SERVER: &str = r#"const http = require("http");
const port = Number(process.env.PORT || process.env.AWS_LWA_PORT || 8080);
const body = '{"message":"hello"}';
http
  .createServer((request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(body);
  })
  .listen(port, "127.0.0.1");
"#;

/// Where the apps were written.
#[derive(Debug)]
pub struct BenchApps {
    pub lambda_mode: PathBuf,
    pub ruby: PathBuf,
    pub java: PathBuf,
    pub http_mode: PathBuf,
}

/// Writes both apps under `root`; `rust_function` is the `bench-hello-rust` binary,
/// copied in as the Rust function's `bootstrap`.
pub fn write(root: &Path, rust_function: &Path) -> anyhow::Result<BenchApps> {
    let lambda_mode = root.join("lambda-mode");
    write_file(&lambda_mode.join("template.yaml"), LAMBDA_TEMPLATE, false)?;
    write_file(&lambda_mode.join("node/index.js"), NODE_HANDLER, false)?;
    write_file(&lambda_mode.join("python/app.py"), PYTHON_HANDLER, false)?;
    let bootstrap = lambda_mode.join("rust/bootstrap");
    std::fs::create_dir_all(lambda_mode.join("rust")).context("create the rust folder")?;
    std::fs::copy(rust_function, &bootstrap).with_context(|| {
        format!(
            "copy {} to {}",
            rust_function.display(),
            bootstrap.display()
        )
    })?;

    let ruby = root.join("ruby");
    write_file(&ruby.join("template.yaml"), RUBY_TEMPLATE, false)?;
    write_file(&ruby.join("ruby/app.rb"), RUBY_HANDLER, false)?;

    let java = root.join("java");
    write_file(&java.join("template.yaml"), JAVA_TEMPLATE, false)?;
    write_file(&java.join("java/Makefile"), JAVA_MAKEFILE, false)?;
    write_file(&java.join("java/bench/Hello.java"), JAVA_HANDLER, false)?;

    let http_mode = root.join("http-mode");
    write_file(&http_mode.join("template.yaml"), HTTP_MODE_TEMPLATE, false)?;
    write_file(&http_mode.join("web/bootstrap"), HTTP_MODE_BOOTSTRAP, true)?;
    write_file(&http_mode.join("web/server.js"), HTTP_MODE_SERVER, false)?;
    Ok(BenchApps {
        lambda_mode,
        ruby,
        java,
        http_mode,
    })
}

fn write_file(path: &Path, text: &str, executable: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    if executable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("make {} executable", path.display()))?;
    }
    Ok(())
}
