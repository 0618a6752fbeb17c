//! Java builds as `sam build` runs them, in a scratch copy of the sources, laid out as
//! Lambda loads Java code (classes and resources at the top, dependencies as jars in
//! `lib/`):
//! - `maven`: `mvn clean install`, then `mvn dependency:copy-dependencies
//!   -DincludeScope=runtime -Dmdep.prependGroupId=true`; `target/classes` is copied to the
//!   top and `target/dependency` to `lib/`.
//! - `gradle`: `./gradlew` when the project has one, else `gradle`, runs `build` with an
//!   init script of Serverful's that lays the main source set's output and its runtime
//!   class path out in `build/serverful-lambda/`, which is copied.
//!
//! `sam build` picks these for a Java function without a `BuildMethod` when it has a
//! `pom.xml` or a `build.gradle(.kts)`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Step;
use crate::files::{self, TempGuard};
use crate::tool::ToolCommand;
use crate::{BuildError, BuildKind, BuildRequest};

/// `sam build`'s choice for a Java function without a `BuildMethod`: its manifest's tool.
pub(super) fn default_kind(code_dir: &Path) -> Option<BuildKind> {
    if code_dir.join("pom.xml").is_file() {
        return Some(BuildKind::Maven);
    }
    ["build.gradle", "build.gradle.kts"]
        .iter()
        .any(|name| code_dir.join(name).is_file())
        .then_some(BuildKind::Gradle)
}

/// Where Gradle's init script leaves the laid-out function, relative to the project.
const GRADLE_OUTPUT: &str = "build/serverful-lambda";

/// Serverful's Gradle init script: after a project's `build` task, its main classes and
/// resources go to the top of `build/serverful-lambda` and its runtime class path's jars
/// to `build/serverful-lambda/lib`.
const GRADLE_INIT_SCRIPT: &str = r#"// Written by Serverful for `gradle build`: lays the function out as Lambda loads Java code.
gradle.taskGraph.afterTask { task ->
    def project = task.project
    if (task.name != 'build' || !project.hasProperty('sourceSets')) {
        return
    }
    def out = new File(project.layout.buildDirectory.get().asFile, 'serverful-lambda')
    project.delete(out)
    project.copy {
        from project.sourceSets.main.output
        into out
    }
    project.copy {
        from project.configurations.runtimeClasspath
        into new File(out, 'lib')
    }
}
"#;

/// The commands a Maven build runs, in `scratch`.
fn maven_commands(scratch: &Path) -> Vec<ToolCommand> {
    vec![
        ToolCommand::new("mvn", scratch).arg("clean").arg("install"),
        ToolCommand::new("mvn", scratch)
            .arg("dependency:copy-dependencies")
            .arg("-DincludeScope=runtime")
            .arg("-Dmdep.prependGroupId=true"),
    ]
}

/// The command a Gradle build runs in `scratch`: the project's wrapper when it has one.
fn gradle_command(scratch: &Path, init_script: &Path) -> ToolCommand {
    let wrapper = scratch.join("gradlew");
    let program = if wrapper.is_file() {
        wrapper.to_string_lossy().into_owned()
    } else {
        "gradle".to_owned()
    };
    ToolCommand::new(&program, scratch)
        .arg("build")
        .arg("--init-script")
        .arg(init_script)
}

/// Runs the Maven or Gradle build of the step's request in a scratch copy of its sources
/// and lays the result out in the step's build folder.
pub(super) fn build(step: &mut Step<'_>, kind: BuildKind) -> Result<(), BuildError> {
    let scratch = step.scratch_copy()?;
    let request = step.request;
    let build_dir = step.build_dir;
    if kind == BuildKind::Gradle {
        // Outside the project, so that it is no part of what the build sees.
        let init_script = TempGuard::new(files::temp_path(step.function_dir, "init.gradle"));
        fs::write(init_script.path(), GRADLE_INIT_SCRIPT)
            .map_err(step.io_error(format!("write {}", init_script.path().display())))?;
        let command = gradle_command(scratch.path(), init_script.path());
        let what = format!("{} build", command.program);
        step.run(
            &command,
            &what,
            "gradle",
            "install Gradle (https://gradle.org/install) or add the Gradle wrapper (gradlew) to the project",
        )?;
        return lay_out_gradle(request, scratch.path(), build_dir);
    }
    for command in maven_commands(scratch.path()) {
        let what = format!(
            "mvn {}",
            command
                .args
                .first()
                .map(|arg| arg.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        step.run(
            &command,
            &what,
            "mvn",
            "install Maven (e.g. `apt install maven`)",
        )?;
    }
    lay_out_maven(request, scratch.path(), build_dir)
}

/// Copies what Gradle's build laid out in [`GRADLE_OUTPUT`] into `build_dir`.
fn lay_out_gradle(
    request: &BuildRequest,
    scratch: &Path,
    build_dir: &Path,
) -> Result<(), BuildError> {
    let output = scratch.join(GRADLE_OUTPUT);
    if !output.is_dir() {
        return Err(BuildError::MissingOutput {
            logical_id: request.logical_id.clone(),
            tool: "gradle build".to_owned(),
            path: output,
            hint: "check that the project applies the `java` plugin".to_owned(),
        });
    }
    copy_tree(&output, build_dir).map_err(|source| BuildError::Io {
        logical_id: request.logical_id.clone(),
        action: format!("copy {} into {}", output.display(), build_dir.display()),
        source,
    })
}

/// Copies what Maven made as Lambda loads it: `target/classes` at the top of `build_dir`,
/// the dependencies Maven copied to `target/dependency` into `build_dir/lib`.
fn lay_out_maven(
    request: &BuildRequest,
    scratch: &Path,
    build_dir: &Path,
) -> Result<(), BuildError> {
    let classes = scratch.join("target/classes");
    if !classes.is_dir() {
        return Err(BuildError::MissingOutput {
            logical_id: request.logical_id.clone(),
            tool: "mvn clean install".to_owned(),
            path: classes,
            hint: "check that the project builds a jar with classes (packaging jar)".to_owned(),
        });
    }
    let copy = |from: &Path, to: &Path| {
        copy_tree(from, to).map_err(|source| BuildError::Io {
            logical_id: request.logical_id.clone(),
            action: format!("copy {} into {}", from.display(), to.display()),
            source,
        })
    };
    copy(&classes, build_dir)?;
    let dependencies = scratch.join("target/dependency");
    if dependencies.is_dir() {
        copy(&dependencies, &build_dir.join("lib"))?;
    }
    Ok(())
}

/// Copies the files and folders under `from` into `to` (made if missing), following links
/// to what they point at, as `sam build`'s copy does.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    let mut pending: Vec<(PathBuf, PathBuf)> = vec![(from.to_owned(), to.to_owned())];
    while let Some((source, dest)) = pending.pop() {
        for entry in fs::read_dir(&source)? {
            let entry = entry?;
            let path = entry.path();
            let target = dest.join(entry.file_name());
            if path.is_dir() {
                fs::create_dir_all(&target)?;
                pending.push((path, target));
            } else if path.is_file() {
                fs::copy(&path, &target)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn request(runtime: &str, code_dir: &Path) -> BuildRequest {
        BuildRequest::new("JavaFunction", runtime, code_dir)
    }

    #[test]
    fn build_methods_and_sam_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(default_kind(dir.path()), None);
        fs::write(dir.path().join("build.gradle.kts"), "").expect("write");
        assert_eq!(default_kind(dir.path()), Some(BuildKind::Gradle));
        fs::write(dir.path().join("pom.xml"), "").expect("write");
        assert_eq!(default_kind(dir.path()), Some(BuildKind::Maven));
    }

    #[test]
    fn command_lines_are_sam_builds() {
        let scratch = Path::new("/build/scratch");
        let maven: Vec<String> = maven_commands(scratch)
            .iter()
            .map(ToolCommand::display)
            .collect();
        assert_eq!(
            maven,
            [
                "mvn clean install",
                "mvn dependency:copy-dependencies -DincludeScope=runtime -Dmdep.prependGroupId=true",
            ]
        );
        assert!(maven_commands(scratch)
            .iter()
            .all(|command| command.cwd == scratch));
        let init = Path::new("/build/.tmp-init.gradle");
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            gradle_command(dir.path(), init).display(),
            "gradle build --init-script /build/.tmp-init.gradle"
        );
        // The project's own wrapper wins.
        let wrapper = dir.path().join("gradlew");
        fs::write(&wrapper, "#!/bin/sh\n").expect("write");
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(
            gradle_command(dir.path(), init).program,
            wrapper.to_string_lossy()
        );
    }

    #[test]
    fn maven_output_is_laid_out_as_lambda_loads_it() {
        let scratch = tempfile::tempdir().expect("tempdir");
        let write = |relative: &str| {
            let path = scratch.path().join(relative);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, relative).expect("write");
        };
        write("target/classes/example/Hello.class");
        write("target/classes/log4j2.xml");
        write("target/dependency/com.amazonaws.aws-lambda-java-core-1.2.3.jar");
        write("target/hello-1.0.jar");
        let build = tempfile::tempdir().expect("tempdir");
        lay_out_maven(
            &request("java21", scratch.path()),
            scratch.path(),
            build.path(),
        )
        .expect("laid out");
        let mut found: Vec<String> = Vec::new();
        let mut pending = vec![build.path().to_owned()];
        while let Some(folder) = pending.pop() {
            for entry in fs::read_dir(folder).expect("read").flatten() {
                if entry.path().is_dir() {
                    pending.push(entry.path());
                } else {
                    let relative = entry
                        .path()
                        .strip_prefix(build.path())
                        .expect("inside")
                        .to_owned();
                    found.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        assert_eq!(
            found,
            [
                "example/Hello.class",
                "lib/com.amazonaws.aws-lambda-java-core-1.2.3.jar",
                "log4j2.xml",
            ]
        );
    }

    #[test]
    fn maven_without_classes_says_so() {
        let scratch = tempfile::tempdir().expect("tempdir");
        let build = tempfile::tempdir().expect("tempdir");
        let error = lay_out_maven(
            &request("java21", scratch.path()),
            scratch.path(),
            build.path(),
        )
        .expect_err("no classes")
        .to_string();
        assert_eq!(
            error,
            format!(
                "cannot build JavaFunction: `mvn clean install` made no {}; check that the project builds a jar with classes (packaging jar)",
                scratch.path().join("target/classes").display()
            )
        );
    }

    #[test]
    fn gradle_output_is_copied_from_where_the_init_script_writes() {
        // The init script writes `serverful-lambda` under the project's build folder.
        assert!(GRADLE_INIT_SCRIPT.contains("buildDirectory.get().asFile, 'serverful-lambda')"));
        let scratch = tempfile::tempdir().expect("tempdir");
        let build = tempfile::tempdir().expect("tempdir");
        let error = lay_out_gradle(
            &request("java21", scratch.path()),
            scratch.path(),
            build.path(),
        )
        .expect_err("nothing built")
        .to_string();
        assert!(
            error.ends_with("; check that the project applies the `java` plugin"),
            "{error}"
        );
        let output = scratch.path().join("build/serverful-lambda");
        fs::create_dir_all(output.join("example")).expect("mkdir");
        fs::create_dir_all(output.join("lib")).expect("mkdir");
        fs::write(output.join("example/Hello.class"), "class").expect("write");
        fs::write(output.join("lib/dep.jar"), "jar").expect("write");
        lay_out_gradle(
            &request("java21", scratch.path()),
            scratch.path(),
            build.path(),
        )
        .expect("laid out");
        assert_eq!(
            fs::read_to_string(build.path().join("example/Hello.class")).expect("read"),
            "class"
        );
        assert_eq!(
            fs::read_to_string(build.path().join("lib/dep.jar")).expect("read"),
            "jar"
        );
    }
}
