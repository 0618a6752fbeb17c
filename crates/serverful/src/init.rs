//! `serverful init`: writes a working app from one of the templates embedded in the binary
//! (`app-templates/`), each runnable with `serverful up` at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serverful_cli::InitArgs;

/// One file of a template, relative to the app folder.
struct TemplateFile {
    path: &'static str,
    content: &'static str,
}

/// An app `serverful init` can write.
struct AppTemplate {
    name: &'static str,
    /// What the app is, completing "Created ...".
    summary: &'static str,
    /// The command that shows the app working once `serverful up` runs.
    try_it: &'static str,
    /// What the host needs to build and run it.
    needs: &'static str,
    files: &'static [TemplateFile],
}

macro_rules! template_file {
    ($template:literal, $path:literal) => {
        TemplateFile {
            path: $path,
            content: include_str!(concat!("../app-templates/", $template, "/", $path)),
        }
    };
}

const TEMPLATES: &[AppTemplate] = &[
    AppTemplate {
        name: "hello",
        summary: "hello world in Python behind an HTTP API",
        try_it: "curl http://127.0.0.1:3000/hello/you",
        needs: "python3",
        files: &[
            template_file!("hello", "template.yaml"),
            template_file!("hello", "hello_world/app.py"),
        ],
    },
    AppTemplate {
        name: "hello-nodejs",
        summary: "hello world in Node.js behind an HTTP API",
        try_it: "curl http://127.0.0.1:3000/hello/you",
        needs: "node",
        files: &[
            template_file!("hello-nodejs", "template.yaml"),
            template_file!("hello-nodejs", "hello-world/app.mjs"),
        ],
    },
    AppTemplate {
        name: "hello-typescript",
        summary: "hello world in TypeScript, bundled with esbuild, behind an HTTP API",
        try_it: "curl http://127.0.0.1:3000/hello/you",
        needs: "node and npm (the build installs esbuild from package.json)",
        files: &[
            template_file!("hello-typescript", "template.yaml"),
            template_file!("hello-typescript", "hello-world/app.ts"),
            template_file!("hello-typescript", "hello-world/package.json"),
            template_file!("hello-typescript", "hello-world/tsconfig.json"),
        ],
    },
    AppTemplate {
        name: "hello-go",
        summary: "hello world in Go, built with go build, behind an HTTP API",
        try_it: "curl http://127.0.0.1:3000/hello/you",
        needs: "go",
        files: &[
            template_file!("hello-go", "template.yaml"),
            template_file!("hello-go", "hello-world/go.mod"),
            template_file!("hello-go", "hello-world/main.go"),
            template_file!("hello-go", "hello-world/runtime.go"),
        ],
    },
    AppTemplate {
        name: "hello-rust",
        summary: "hello world in Rust with lambda_runtime, built with cargo, behind an HTTP API",
        try_it: "curl http://127.0.0.1:3000/hello/you",
        needs: "cargo (the first build takes a minute)",
        files: &[
            template_file!("hello-rust", "template.yaml"),
            template_file!("hello-rust", "hello-world/Cargo.toml"),
            template_file!("hello-rust", "hello-world/src/main.rs"),
        ],
    },
    AppTemplate {
        name: "crud",
        summary: "a CRUD API in Python on a DynamoDB table",
        try_it: "curl -X PUT http://127.0.0.1:3000/items/1 -d '{\"name\": \"pen\"}' && curl http://127.0.0.1:3000/items",
        needs: "python3",
        files: &[
            template_file!("crud", "template.yaml"),
            template_file!("crud", "items/app.py"),
        ],
    },
];

/// Files every app gets besides the template's own.
const GITIGNORE: &str = ".serverful/\n.aws-sam/\nnode_modules/\ntarget/\n";

pub(crate) fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        for template in TEMPLATES {
            println!("{:<18} {}", template.name, template.summary);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(template) = TEMPLATES.iter().find(|t| t.name == args.template) else {
        anyhow::bail!(
            "there is no template `{}`; the templates are {}\nhint: `serverful init --list` describes each",
            args.template,
            TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
        );
    };
    let written = write_app(template, &args.dir)?;
    let shown = args.dir.display();
    println!("Created {shown}: {}", template.summary);
    for path in &written {
        println!("  {}", path.display());
    }
    println!();
    println!("Run it (needs {}):", template.needs);
    if args.dir != Path::new(".") {
        println!("  cd {shown}");
    }
    println!("  serverful up");
    println!("  {}", template.try_it);
    Ok(ExitCode::SUCCESS)
}

/// Writes `template` into `dir` (created if missing) and returns the paths written,
/// relative to `dir`. Refuses, writing nothing, when any of the template's files exists.
fn write_app(template: &AppTemplate, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let readme = readme(template);
    let mut files: Vec<(&str, &str)> = template
        .files
        .iter()
        .map(|file| (file.path, file.content))
        .collect();
    files.push(("README.md", &readme));
    let existing: Vec<String> = files
        .iter()
        .map(|(path, _)| dir.join(path))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        anyhow::bail!(
            "{} already holds {}; nothing was written\nhint: choose an empty folder: `serverful init --template {} my-app`",
            dir.display(),
            existing.join(", "),
            template.name
        );
    }
    let gitignore = dir.join(".gitignore");
    if !gitignore.exists() {
        files.push((".gitignore", GITIGNORE));
    }
    let mut written = Vec::with_capacity(files.len());
    for (relative, content) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create the folder {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
        written.push(PathBuf::from(relative));
    }
    Ok(written)
}

fn readme(template: &AppTemplate) -> String {
    format!(
        "# {name}\n\nThis app is {summary}, made by `serverful init --template {name}`. It is an AWS SAM \
         app: `template.yaml` describes it, and it deploys to AWS unchanged with `sam deploy`.\n\n\
         ## Run it\n\nNeeds {needs}.\n\n```sh\nserverful up\n{try_it}\n```\n\n\
         `serverful up --watch` rebuilds and reloads a function when its code changes.\n",
        name = template.name,
        summary = template.summary,
        needs = template.needs,
        try_it = template.try_it,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_template_yaml_and_unique_name() {
        for (idx, template) in TEMPLATES.iter().enumerate() {
            assert!(
                template
                    .files
                    .iter()
                    .any(|file| file.path == "template.yaml"),
                "{}",
                template.name
            );
            assert!(
                TEMPLATES[idx + 1..]
                    .iter()
                    .all(|other| other.name != template.name),
                "{} twice",
                template.name
            );
        }
    }

    #[test]
    fn an_existing_file_stops_init_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("template.yaml"), "mine").expect("write");
        let template = &TEMPLATES[0];
        let error = write_app(template, dir.path()).expect_err("refused");
        assert!(error.to_string().contains("already holds"), "{error}");
        assert!(!dir.path().join("hello_world").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("template.yaml")).expect("read"),
            "mine"
        );
    }
}
