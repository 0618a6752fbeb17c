//! Java functions: the JVM of the runtime's version (or the nearest one installed),
//! Serverful's Java bootstrap compiled once per compiler with `javac`, the JVM's command
//! line as AWS's Java runtimes start it, and the handler's class checked at start.
//!
//! Installations are found through `JAVA_HOME`, `java` and `javac` on PATH (symlinks
//! resolved, as Debian's `/usr/bin/java` → `/etc/alternatives/java` → the JDK) and the
//! folders under `/usr/lib/jvm`; each one's version comes from its `release` file, so no
//! JVM is started to learn it unless that file is missing.

mod classfile;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serverful_catalog::Version;
use sha2::{Digest, Sha256};

use super::{Interpreter, InterpreterProbes, Launch};
use crate::{FunctionConfig, RuntimeError};

/// The bootstrap's sources: the Lambda core library's API under AWS's package names, and
/// Serverful's runtime loop. Paths are relative to `java/src/`.
const SOURCES: &[(&str, &str)] = &[
    (
        "com/amazonaws/services/lambda/runtime/Client.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/Client.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/ClientContext.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/ClientContext.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/CognitoIdentity.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/CognitoIdentity.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/Context.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/Context.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/LambdaLogger.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/LambdaLogger.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/LambdaRuntime.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/LambdaRuntime.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/LambdaRuntimeInternal.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/LambdaRuntimeInternal.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/RequestHandler.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/RequestHandler.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/RequestStreamHandler.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/RequestStreamHandler.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/logging/LogFormat.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/logging/LogFormat.java"),
    ),
    (
        "com/amazonaws/services/lambda/runtime/logging/LogLevel.java",
        include_str!("java/src/com/amazonaws/services/lambda/runtime/logging/LogLevel.java"),
    ),
    (
        "serverful/bootstrap/Handlers.java",
        include_str!("java/src/serverful/bootstrap/Handlers.java"),
    ),
    (
        "serverful/bootstrap/InvocationContext.java",
        include_str!("java/src/serverful/bootstrap/InvocationContext.java"),
    ),
    (
        "serverful/bootstrap/Json.java",
        include_str!("java/src/serverful/bootstrap/Json.java"),
    ),
    (
        "serverful/bootstrap/Main.java",
        include_str!("java/src/serverful/bootstrap/Main.java"),
    ),
    (
        "serverful/bootstrap/Mapper.java",
        include_str!("java/src/serverful/bootstrap/Mapper.java"),
    ),
    (
        "serverful/bootstrap/RuntimeApiClient.java",
        include_str!("java/src/serverful/bootstrap/RuntimeApiClient.java"),
    ),
    (
        "serverful/bootstrap/TextLogger.java",
        include_str!("java/src/serverful/bootstrap/TextLogger.java"),
    ),
    (
        "serverful/bootstrap/TrustStore.java",
        include_str!("java/src/serverful/bootstrap/TrustStore.java"),
    ),
    (
        "serverful/bootstrap/UserFault.java",
        include_str!("java/src/serverful/bootstrap/UserFault.java"),
    ),
];

/// The bootstrap's entry point, named in its jar's manifest.
const MAIN_CLASS: &str = "serverful.bootstrap.Main";

/// The oldest Java the bootstrap is written for (and the oldest Lambda has had).
const OLDEST_JAVA: u32 = 8;

/// What to tell a user who has no Java at all, or no compiler.
const INSTALL_A_JDK: &str =
    "install a JDK (e.g. `apt install default-jdk-headless`) or set JAVA_HOME to one";

/// One Java installation on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installation {
    /// Its root folder, as `JAVA_HOME` would name it.
    pub home: PathBuf,
    /// Its `bin/java`.
    pub java: PathBuf,
    /// Its `bin/javac`, when it is a JDK.
    pub javac: Option<PathBuf>,
    /// `17.0.15`, `25.0.3`, `1.8.0_412`.
    pub version: String,
}

impl Installation {
    fn major(&self) -> Option<u32> {
        Version::parse_leading(&self.version).map(|version| version.major)
    }
}

/// Where Java installations are looked for.
#[derive(Debug, Clone)]
pub(crate) struct JavaSearch {
    pub java_home: Option<PathBuf>,
    /// The PATH `java` and `javac` are looked up on.
    pub path: OsString,
    /// Folders holding one installation per entry (`/usr/lib/jvm`).
    pub roots: Vec<PathBuf>,
}

impl JavaSearch {
    /// The server's own `JAVA_HOME` and PATH, and `/usr/lib/jvm`.
    pub(crate) fn from_environment(search_path: Option<&OsString>) -> JavaSearch {
        JavaSearch {
            java_home: std::env::var_os("JAVA_HOME")
                .filter(|home| !home.is_empty())
                .map(PathBuf::from),
            path: search_path.cloned().unwrap_or_else(|| {
                std::env::var_os("PATH").unwrap_or_else(|| OsString::from(super::DEFAULT_PATH))
            }),
            roots: vec![PathBuf::from("/usr/lib/jvm")],
        }
    }
}

impl InterpreterProbes {
    /// Every Java installation on the host, looked for once per set of probes.
    fn java_installations(&mut self) -> &[Installation] {
        if self.java_installations.is_none() {
            let search = self
                .java_search
                .clone()
                .unwrap_or_else(|| JavaSearch::from_environment(self.search_path.as_ref()));
            self.java_installations = Some(installations(&search));
        }
        self.java_installations.as_deref().unwrap_or_default()
    }
}

/// The installations `search` finds, each once (by real path): `JAVA_HOME` first, then
/// those of `java` and `javac` on PATH, then the folders under the roots by name.
pub(crate) fn installations(search: &JavaSearch) -> Vec<Installation> {
    let mut homes: Vec<PathBuf> = Vec::new();
    homes.extend(search.java_home.clone());
    for command in ["java", "javac"] {
        if let Some(found) = super::find_on_path(command, &search.path) {
            if let Some(home) = std::fs::canonicalize(found)
                .ok()
                .and_then(|real| real.parent()?.parent().map(Path::to_owned))
            {
                homes.push(home);
            }
        }
    }
    for root in &search.roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        let mut folders: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        folders.sort();
        homes.extend(folders);
    }
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for home in homes {
        let Ok(mut home) = std::fs::canonicalize(&home) else {
            continue;
        };
        // A Java 8 JDK's `java` on PATH may be its `jre/bin/java`; the JDK is one level up.
        if home.file_name().is_some_and(|name| name == "jre")
            && home
                .parent()
                .is_some_and(|jdk| jdk.join("bin/java").is_file())
        {
            home.pop();
        }
        if !seen.insert(home.clone()) {
            continue;
        }
        found.extend(installation_at(&home));
    }
    found
}

/// The installation rooted at `home`, if it has a `bin/java` whose version can be learnt.
fn installation_at(home: &Path) -> Option<Installation> {
    let java = home.join("bin/java");
    if !super::is_executable_file(&java) {
        return None;
    }
    let javac = Some(home.join("bin/javac")).filter(|javac| super::is_executable_file(javac));
    let version = release_version(home).or_else(|| reported_version(&java))?;
    Some(Installation {
        home: home.to_owned(),
        java,
        javac,
        version,
    })
}

/// `JAVA_VERSION` from the installation's `release` file.
fn release_version(home: &Path) -> Option<String> {
    let text = std::fs::read_to_string(home.join("release")).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("JAVA_VERSION=")?;
        Some(value.trim().trim_matches('"').to_owned()).filter(|version| !version.is_empty())
    })
}

/// Versions printed by `java -version`, by path, for installations without a `release`
/// file: starting a JVM costs tens of milliseconds, so it is done once per process.
static REPORTED_VERSIONS: std::sync::LazyLock<std::sync::Mutex<HashMap<PathBuf, Option<String>>>> =
    std::sync::LazyLock::new(Default::default);

/// The version `java -version` prints: `openjdk version "17.0.15" 2025-04-15`.
fn reported_version(java: &Path) -> Option<String> {
    let mut cache = REPORTED_VERSIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(java.to_owned())
        .or_insert_with(|| {
            let output = Command::new(java).arg("-version").output().ok()?;
            let text = String::from_utf8_lossy(&output.stderr);
            parse_version_banner(&text)
        })
        .clone()
}

fn parse_version_banner(text: &str) -> Option<String> {
    let line = text.lines().find(|line| line.contains(" version \""))?;
    let start = line.find('"')? + 1;
    let end = start + line[start..].find('"')?;
    Some(line[start..end].to_owned())
}

/// The installation that runs a runtime wanting Java `wanted`: one of that major version,
/// else the nearest (on a tie the newer), as an [`Interpreter`] and whether it is exact.
/// The error, when there is no Java or no compiler for the bootstrap, says what to install.
pub(super) fn resolve(
    probes: &mut InterpreterProbes,
    wanted: Version,
) -> Result<(Interpreter, bool), String> {
    let installations = probes.java_installations();
    let Some((chosen, exact)) = nearest(installations, wanted.major) else {
        return Err(format!(
            "no Java {OLDEST_JAVA} or newer was found (JAVA_HOME, `java` on PATH, /usr/lib/jvm); {INSTALL_A_JDK}"
        ));
    };
    if compiler_for(installations, chosen).is_none() {
        return Err(format!(
            "Serverful compiles its Java bootstrap once with `javac`, and only a Java runtime without a compiler was found ({}); {INSTALL_A_JDK}",
            chosen.home.display()
        ));
    }
    Ok((
        Interpreter {
            path: chosen.java.clone(),
            version: chosen.version.clone(),
        },
        exact,
    ))
}

/// The installation of major version `wanted`, else the nearest one (the newer on a tie);
/// the flag says whether it is of the version wanted.
fn nearest(installations: &[Installation], wanted: u32) -> Option<(&Installation, bool)> {
    let usable = || {
        installations.iter().filter_map(|installation| {
            let major = installation.major()?;
            (major >= OLDEST_JAVA).then_some((installation, major))
        })
    };
    if let Some((installation, _)) = usable().find(|(_, major)| *major == wanted) {
        return Some((installation, true));
    }
    usable()
        .min_by_key(|(_, major)| (major.abs_diff(wanted), std::cmp::Reverse(*major)))
        .map(|(installation, _)| (installation, false))
}

/// The `javac` that compiles the bootstrap for `runtime`, and the Java release it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compiler {
    pub javac: PathBuf,
    /// The compiler's own version, which the build is keyed by.
    pub version: String,
    /// The Java release the classes target: no newer than the JVM that runs them.
    pub release: u32,
}

impl Compiler {
    /// `--release N` (JDK 9 and later), or `-source`/`-target` for a Java 8 compiler.
    fn release_args(&self) -> Vec<String> {
        let compiler_major = Version::parse_leading(&self.version).map_or(0, |v| v.major);
        if compiler_major <= 8 {
            let release = format!("1.{}", self.release);
            vec![
                "-source".to_owned(),
                release.clone(),
                "-target".to_owned(),
                release,
            ]
        } else {
            vec!["--release".to_owned(), self.release.to_string()]
        }
    }
}

/// The compiler for the bootstrap that `runtime` runs: its own `javac` when it is a JDK,
/// else the newest other one; `None` when the host has no `javac`.
fn compiler_for(installations: &[Installation], runtime: &Installation) -> Option<Compiler> {
    let runtime_major = runtime.major()?;
    let own = runtime.javac.as_ref().map(|javac| (javac, runtime));
    let newest_other = installations
        .iter()
        .filter_map(|other| Some((other.javac.as_ref()?, other)))
        .filter(|(_, other)| other.major().is_some_and(|major| major >= OLDEST_JAVA))
        .max_by_key(|(_, other)| other.major());
    let (javac, installation) = own.or(newest_other)?;
    let compiler_major = installation.major()?;
    Some(Compiler {
        javac: javac.clone(),
        version: installation.version.clone(),
        release: runtime_major.min(compiler_major),
    })
}

/// The bootstrap jar's path under the runtimes folder for `compiler`: the sources, the
/// compiler and the release decide it, so that servers with other sources or compilers
/// never share (or overwrite) a build.
fn bootstrap_path(compiler: &Compiler) -> &'static str {
    let mut hasher = Sha256::new();
    for (path, source) in SOURCES {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(source.as_bytes());
        hasher.update([0]);
    }
    hasher.update(compiler.javac.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    hasher.update(compiler.version.as_bytes());
    hasher.update([0]);
    hasher.update(compiler.release.to_string().as_bytes());
    let digest = hasher.finalize();
    let key: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    // `Launch::bootstrap` is a static path. One string per compiler is made for the life
    // of the process (a host has a handful), so the few bytes kept are bounded.
    static PATHS: std::sync::LazyLock<std::sync::Mutex<HashMap<String, &'static str>>> =
        std::sync::LazyLock::new(Default::default);
    let mut paths = PATHS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    paths
        .entry(key.clone())
        .or_insert_with(|| Box::leak(format!("java/{key}/bootstrap.jar").into_boxed_str()))
}

/// Compiles the bootstrap with `compiler` into `runtime_dir` unless that build exists, and
/// returns its path relative to `runtime_dir`. The build is made in a folder of its own
/// and renamed into place, so a server starting meanwhile never sees half of it.
fn compile(
    function: &str,
    runtime_dir: &Path,
    compiler: &Compiler,
) -> Result<&'static str, RuntimeError> {
    let relative = bootstrap_path(compiler);
    let jar = runtime_dir.join(relative);
    if jar.is_file() {
        return Ok(relative);
    }
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| RuntimeError::WriteBootstraps { path, source }
    };
    let Some(build) = jar.parent().and_then(Path::parent) else {
        return Err(RuntimeError::WriteBootstraps {
            path: jar.clone(),
            source: std::io::Error::other("the bootstrap's path has no parent"),
        });
    };
    std::fs::create_dir_all(build).map_err(write_error(build))?;
    let scratch = Scratch(build.join(format!(".build-{}", uuid::Uuid::new_v4().simple())));
    let sources = scratch.0.join("src");
    let classes = scratch.0.join("classes");
    let out = scratch.0.join("out");
    for folder in [&sources, &classes, &out] {
        std::fs::create_dir_all(folder).map_err(write_error(folder))?;
    }
    let mut files = Vec::with_capacity(SOURCES.len());
    for (path, source) in SOURCES {
        let file = sources.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&file, source).map_err(write_error(&file))?;
        files.push(file);
    }
    let output = Command::new(&compiler.javac)
        .arg("-d")
        .arg(&classes)
        .args(["-encoding", "UTF-8", "-nowarn", "-Xlint:-options"])
        .args(compiler.release_args())
        .args(&files)
        .output()
        .map_err(|error| RuntimeError::CompileBootstrap {
            function: function.to_owned(),
            javac: compiler.javac.clone(),
            output: format!("could not run it: {error}"),
        })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        return Err(RuntimeError::CompileBootstrap {
            function: function.to_owned(),
            javac: compiler.javac.clone(),
            output: text.trim().to_owned(),
        });
    }
    let packed = out.join("bootstrap.jar");
    write_jar(&classes, &packed).map_err(write_error(&packed))?;
    // Readable by functions, which run as a user of their own, whatever the umask.
    super::set_mode(&packed, super::OPEN_FILE_MODE).map_err(write_error(&packed))?;
    super::set_mode(&out, super::OPEN_DIR_MODE).map_err(write_error(&out))?;
    for folder in build
        .ancestors()
        .take_while(|folder| folder.starts_with(runtime_dir))
    {
        super::set_mode(folder, super::OPEN_DIR_MODE).map_err(write_error(folder))?;
    }
    let destination = jar.parent().unwrap_or(build);
    if let Err(error) = std::fs::rename(&out, destination) {
        // Another server built the same bootstrap meanwhile: its build is as good.
        if !jar.is_file() {
            return Err(RuntimeError::WriteBootstraps {
                path: destination.to_owned(),
                source: error,
            });
        }
    }
    Ok(relative)
}

/// A build folder removed when the build is done or abandoned.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Packs the compiled classes into an executable jar whose manifest names [`MAIN_CLASS`].
fn write_jar(classes: &Path, jar: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(jar)?;
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer
        .start_file("META-INF/MANIFEST.MF", options)
        .map_err(std::io::Error::other)?;
    write!(
        writer,
        "Manifest-Version: 1.0\r\nMain-Class: {MAIN_CLASS}\r\nCreated-By: Serverful\r\n\r\n"
    )?;
    let mut pending = vec![classes.to_owned()];
    let mut entries = Vec::new();
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                entries.push(path);
            }
        }
    }
    entries.sort();
    for path in entries {
        let Some(name) = path
            .strip_prefix(classes)
            .ok()
            .and_then(|relative| relative.to_str())
        else {
            continue;
        };
        writer
            .start_file(name, options)
            .map_err(std::io::Error::other)?;
        writer.write_all(&std::fs::read(&path)?)?;
    }
    writer
        .finish()
        .map_err(std::io::Error::other)?
        .into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()
}

/// The JVM's options, as AWS's Java runtimes start it: heap, metaspace and code cache as
/// shares of `MemorySize`, the serial collector, class data sharing, no perf data file, and
/// for Java 17 and later tiered compilation stopping at C1 for quick starts. An option the
/// function sets in `JAVA_TOOL_OPTIONS` is left out: the command line would override it.
fn jvm_args(memory_mb: u32, runtime_major: u32, tool_options: Option<&str>) -> Vec<String> {
    let set_by_user = |needles: &[&str]| {
        tool_options.is_some_and(|options| needles.iter().any(|needle| options.contains(needle)))
    };
    let share_kb = |percent: u64| (u64::from(memory_mb) * 1024 * percent).div_ceil(100);
    let mut args = Vec::new();
    if !set_by_user(&["-Xmx", "MaxHeapSize", "MaxRAMPercentage", "MaxRAM="]) {
        args.push(format!("-XX:MaxHeapSize={}k", share_kb(85)));
    }
    if !set_by_user(&["MaxMetaspaceSize"]) {
        args.push(format!("-XX:MaxMetaspaceSize={}k", share_kb(10)));
    }
    if !set_by_user(&["ReservedCodeCacheSize"]) {
        args.push(format!("-XX:ReservedCodeCacheSize={}k", share_kb(5)));
    }
    if !set_by_user(&["GC"]) {
        args.push("-XX:+UseSerialGC".to_owned());
    }
    if !set_by_user(&["-Xshare"]) {
        args.push("-Xshare:auto".to_owned());
    }
    if !set_by_user(&["UsePerfData"]) {
        args.push("-XX:-UsePerfData".to_owned());
    }
    if runtime_major >= 17 && !set_by_user(&["Tiered"]) {
        args.push("-XX:+TieredCompilation".to_owned());
        args.push("-XX:TieredStopAtLevel=1".to_owned());
    }
    if !set_by_user(&["file.encoding"]) {
        args.push("-Dfile.encoding=UTF-8".to_owned());
    }
    args.push("-jar".to_owned());
    args
}

/// How to start a Java function: the JVM, its options, and the bootstrap jar (compiled now
/// if this JDK has not compiled it yet, when the runtimes folder is known).
pub(super) fn launch(
    function: &FunctionConfig,
    java: &Path,
    probes: &mut InterpreterProbes,
) -> Result<Launch, RuntimeError> {
    check_handler(function)?;
    let runtime_major = serverful_catalog::lookup(&function.runtime)
        .map_or(OLDEST_JAVA, |runtime| runtime.version.major);
    let runtime_dir = probes.runtime_dir.clone();
    let installations = probes.java_installations();
    let compiler = installations
        .iter()
        .find(|installation| installation.java == java)
        .and_then(|runtime| compiler_for(installations, runtime))
        .ok_or_else(|| RuntimeError::MissingInterpreter {
            function: function.name.clone(),
            runtime: function.runtime.clone(),
            language: "Java",
            detail: format!(
                "no `javac` was found to compile Serverful's Java bootstrap; {INSTALL_A_JDK}"
            ),
        })?;
    let bootstrap = match &runtime_dir {
        Some(runtime_dir) => compile(&function.name, runtime_dir, &compiler)?,
        None => bootstrap_path(&compiler),
    };
    Ok(Launch {
        program: java.to_owned(),
        bootstrap: Some(bootstrap),
        interpreter_args: jvm_args(
            function.memory_mb,
            runtime_major,
            function
                .environment
                .get("JAVA_TOOL_OPTIONS")
                .map(String::as_str),
        ),
        execution_env: Some(format!("AWS_Lambda_{}", function.runtime)),
    })
}

fn bad_handler(function: &FunctionConfig, problem: String) -> RuntimeError {
    super::bad_handler(function, problem)
}

/// Checks the handler at start: `package.Class::method` or `package.Class` naming a class
/// on the function's class path; with a method, that the class (or one it extends) has a
/// public method of that name; without one, that it implements `RequestHandler` or
/// `RequestStreamHandler`. Where the class's ancestry leaves the code (a JDK or layer
/// class), what cannot be seen is left to the bootstrap, which reports it as AWS does.
fn check_handler(function: &FunctionConfig) -> Result<(), RuntimeError> {
    const FORMS: &str =
        "a Java handler looks like `package.Class::method` or `package.Class`, e.g. `example.Hello::handleRequest`";
    let handler = function.handler.as_str();
    let (class_name, method) = match handler.rsplit_once("::") {
        Some((class_name, method)) => (class_name, Some(method)),
        None => (handler, None),
    };
    let is_identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first.is_alphabetic() || first == '_' || first == '$')
            && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    if !class_name.split('.').all(is_identifier)
        || method.is_some_and(|method| !is_identifier(method))
    {
        return Err(bad_handler(function, FORMS.to_owned()));
    }
    let internal = class_name.replace('.', "/");
    let mut class_path = ClassPath::of(&function.code_dir, function.layers_dir.as_deref());
    let Some(info) = class_path.class(&internal) else {
        return Err(bad_handler(
            function,
            format!(
                "no class {class_name}: {internal}.class is not in {}{}; check the package and class name, and that the build puts compiled classes at the top of the code folder or in lib/*.jar",
                function.code_dir.display(),
                class_path.jars_description()
            ),
        ));
    };
    match method {
        Some(method) => {
            let Some(methods) = class_path.public_methods(&info) else {
                return Ok(());
            };
            if methods.contains(method) {
                return Ok(());
            }
            let mut names: Vec<&String> = methods
                .iter()
                .filter(|name| !OBJECT_METHODS.contains(&name.as_str()))
                .collect();
            names.sort();
            let names: Vec<&str> = names.iter().map(|name| name.as_str()).collect();
            Err(bad_handler(
                function,
                format!(
                    "class {class_name} has no public method `{method}` (its public methods: {}); name one after `::`",
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            ))
        }
        None => match class_path.implements_handler(&info) {
            Some(false) => Err(bad_handler(
                function,
                format!(
                    "class {class_name} implements neither RequestHandler nor RequestStreamHandler (com.amazonaws.services.lambda.runtime); implement one, or name the method to call: `{class_name}::method`"
                ),
            )),
            Some(true) | None => Ok(()),
        },
    }
}

/// The public methods of `java.lang.Object`, which every class has.
const OBJECT_METHODS: &[&str] = &[
    "equals",
    "getClass",
    "hashCode",
    "notify",
    "notifyAll",
    "toString",
    "wait",
];

const REQUEST_HANDLER: &str = "com/amazonaws/services/lambda/runtime/RequestHandler";
const REQUEST_STREAM_HANDLER: &str = "com/amazonaws/services/lambda/runtime/RequestStreamHandler";

/// A function's class path as the bootstrap builds it, minus layers (which are only known
/// inside the instance): the code folder, its `lib/*.jar`, then jars at its top.
struct ClassPath {
    code_dir: PathBuf,
    jars: Vec<PathBuf>,
    /// Jars opened so far (`None`: not a readable zip).
    opened: HashMap<PathBuf, Option<zip::ZipArchive<std::fs::File>>>,
}

impl ClassPath {
    /// The class path the bootstrap builds: the code folder, its `lib/*.jar`, jars at its
    /// top, then the layers' `java/lib/*.jar`.
    fn of(code_dir: &Path, layers_dir: Option<&Path>) -> ClassPath {
        let jars_in = |folder: &Path| {
            let mut jars: Vec<PathBuf> = std::fs::read_dir(folder)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|entry| entry.path())
                        .filter(|path| {
                            path.extension().is_some_and(|ext| ext == "jar") && path.is_file()
                        })
                        .collect()
                })
                .unwrap_or_default();
            jars.sort();
            jars
        };
        let mut jars = jars_in(&code_dir.join("lib"));
        jars.extend(jars_in(code_dir));
        if let Some(layers_dir) = layers_dir {
            jars.extend(jars_in(&layers_dir.join("java/lib")));
        }
        ClassPath {
            code_dir: code_dir.to_owned(),
            jars,
            opened: HashMap::new(),
        }
    }

    fn jars_description(&self) -> String {
        match self.jars.len() {
            0 => " (which has no lib/*.jar)".to_owned(),
            1 => " or its 1 jar".to_owned(),
            count => format!(" or its {count} jars"),
        }
    }

    /// The class file of `internal` (`example/Hello`), parsed, from the first entry of the
    /// class path that has it.
    fn class(&mut self, internal: &str) -> Option<classfile::ClassInfo> {
        let relative = format!("{internal}.class");
        if let Ok(bytes) = std::fs::read(self.code_dir.join(&relative)) {
            return classfile::parse(&bytes);
        }
        for jar in &self.jars {
            let archive = self
                .opened
                .entry(jar.clone())
                .or_insert_with(|| {
                    std::fs::File::open(jar)
                        .ok()
                        .and_then(|file| zip::ZipArchive::new(file).ok())
                })
                .as_mut();
            let Some(archive) = archive else {
                continue;
            };
            let Ok(mut entry) = archive.by_name(&relative) else {
                continue;
            };
            let mut bytes = Vec::new();
            if entry.read_to_end(&mut bytes).is_ok() {
                return classfile::parse(&bytes);
            }
        }
        None
    }

    /// The names of the public methods `Class.getMethods()` would list for `info`: its own,
    /// its superclasses', and its interfaces' instance methods. `None` when a class of its
    /// ancestry cannot be read (a JDK class, a layer's), so the list may be incomplete.
    fn public_methods(&mut self, info: &classfile::ClassInfo) -> Option<HashSet<String>> {
        let mut names = HashSet::new();
        let mut seen = HashSet::new();
        let mut pending = vec![(info.clone(), true)];
        while let Some((class, own_or_superclass)) = pending.pop() {
            if !seen.insert(class.name.clone()) {
                continue;
            }
            for method in &class.methods {
                let inherited = own_or_superclass || !method.is_static;
                if method.is_public && inherited && !method.name.starts_with('<') {
                    names.insert(method.name.clone());
                }
            }
            let parents = class
                .super_class
                .iter()
                .map(|name| (name, own_or_superclass && !class.is_interface))
                .chain(class.interfaces.iter().map(|name| (name, false)));
            for (parent, is_superclass) in parents {
                match parent.as_str() {
                    "java/lang/Object" => {
                        names.extend(OBJECT_METHODS.iter().map(|name| (*name).to_owned()))
                    }
                    REQUEST_HANDLER | REQUEST_STREAM_HANDLER => {
                        names.insert("handleRequest".to_owned());
                    }
                    _ => pending.push((self.class(parent)?, is_superclass)),
                }
            }
        }
        Some(names)
    }

    /// Whether `info` implements `RequestHandler` or `RequestStreamHandler` somewhere in
    /// its ancestry; `None` when part of the ancestry cannot be read.
    fn implements_handler(&mut self, info: &classfile::ClassInfo) -> Option<bool> {
        let mut seen = HashSet::new();
        let mut pending = vec![info.clone()];
        let mut complete = true;
        while let Some(class) = pending.pop() {
            if !seen.insert(class.name.clone()) {
                continue;
            }
            for parent in class.super_class.iter().chain(&class.interfaces) {
                match parent.as_str() {
                    REQUEST_HANDLER | REQUEST_STREAM_HANDLER => return Some(true),
                    "java/lang/Object" => {}
                    _ => match self.class(parent) {
                        Some(parent) => pending.push(parent),
                        None => complete = false,
                    },
                }
            }
        }
        complete.then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn function(handler: &str, code_dir: &Path) -> FunctionConfig {
        FunctionConfig {
            name: "JavaFunction".to_owned(),
            function_name: "JavaFunction".to_owned(),
            runtime: "java21".to_owned(),
            handler: handler.to_owned(),
            code_dir: code_dir.to_owned(),
            timeout: Duration::from_secs(3),
            memory_mb: 512,
            environment: BTreeMap::new(),
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
            layers_dir: None,
            logging: Default::default(),
        }
    }

    /// A fake installation: `bin/java` (and `bin/javac` for a JDK) scripts and a `release`
    /// file saying `version`.
    fn fake_installation(root: &Path, name: &str, version: &str, jdk: bool) -> PathBuf {
        let home = root.join(name);
        std::fs::create_dir_all(home.join("bin")).expect("mkdir");
        let mut tools = vec!["java"];
        if jdk {
            tools.push("javac");
        }
        for tool in tools {
            let path = home.join("bin").join(tool);
            std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        std::fs::write(
            home.join("release"),
            format!("IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"{version}\"\n"),
        )
        .expect("write");
        home
    }

    fn search(root: &Path) -> JavaSearch {
        JavaSearch {
            java_home: None,
            path: OsString::from(root.join("no-such-bin")),
            roots: vec![root.to_owned()],
        }
    }

    fn probes_over(root: &Path) -> InterpreterProbes {
        InterpreterProbes {
            java_search: Some(search(root)),
            ..InterpreterProbes::default()
        }
    }

    #[test]
    fn installations_come_from_release_files_and_symlinks_count_once() {
        let root = tempfile::tempdir().expect("tempdir");
        let jdk17 = fake_installation(root.path(), "java-17-openjdk-amd64", "17.0.15", true);
        fake_installation(root.path(), "jre-8", "1.8.0_412", false);
        // Debian's `java-1.17.0-openjdk-amd64` is a link to the same JDK.
        std::os::unix::fs::symlink(&jdk17, root.path().join("java-1.17.0-openjdk-amd64"))
            .expect("symlink");
        // A folder without bin/java is no installation.
        std::fs::create_dir_all(root.path().join("openjdk-17")).expect("mkdir");
        let found = installations(&search(root.path()));
        let summary: Vec<(String, String, bool)> = found
            .iter()
            .map(|installation| {
                (
                    installation
                        .home
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned(),
                    installation.version.clone(),
                    installation.javac.is_some(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "java-17-openjdk-amd64".to_owned(),
                    "17.0.15".to_owned(),
                    true
                ),
                ("jre-8".to_owned(), "1.8.0_412".to_owned(), false),
            ]
        );
    }

    #[test]
    fn java_on_path_is_followed_to_its_installation() {
        let root = tempfile::tempdir().expect("tempdir");
        let jdk = fake_installation(root.path(), "temurin-21", "21.0.4", true);
        let bin = root.path().join("bin");
        let alternatives = root.path().join("alternatives");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::create_dir_all(&alternatives).expect("mkdir");
        std::os::unix::fs::symlink(jdk.join("bin/java"), alternatives.join("java"))
            .expect("symlink");
        std::os::unix::fs::symlink(alternatives.join("java"), bin.join("java")).expect("symlink");
        let found = installations(&JavaSearch {
            java_home: None,
            path: bin.into_os_string(),
            roots: Vec::new(),
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].home, jdk.canonicalize().expect("canonical"));
        assert_eq!(found[0].version, "21.0.4");
    }

    #[test]
    fn the_version_banner_is_read_when_there_is_no_release_file() {
        assert_eq!(
            parse_version_banner(
                "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)\n"
            )
            .as_deref(),
            Some("17.0.15")
        );
        assert_eq!(
            parse_version_banner("java version \"1.8.0_412\"\n").as_deref(),
            Some("1.8.0_412")
        );
        assert_eq!(parse_version_banner("garbage"), None);
    }

    fn resolve_over(root: &Path, runtime: &str) -> Result<(PathBuf, Option<String>), String> {
        super::super::resolve("Fn", runtime, &mut probes_over(root))
            .map(|resolved| (resolved.interpreter.expect("a JVM"), resolved.warning))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_runtimes_version_runs_else_the_nearest_with_a_warning() {
        let root = tempfile::tempdir().expect("tempdir");
        let jdk17 = fake_installation(root.path(), "jdk-17", "17.0.15", true);
        let jdk25 = fake_installation(root.path(), "jdk-25", "25.0.3", true);
        let jdk17 = jdk17.canonicalize().expect("canonical");
        let jdk25 = jdk25.canonicalize().expect("canonical");
        let (java, warning) = resolve_over(root.path(), "java17").expect("found");
        assert_eq!(java, jdk17.join("bin/java"));
        assert_eq!(warning, None);
        let (java, warning) = resolve_over(root.path(), "java11").expect("found");
        assert_eq!(java, jdk17.join("bin/java"));
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime java11 wants Java 11, running with Java 17.0.15")
        );
        // 17 and 25 are as near to 21; the newer wins.
        let (java, warning) = resolve_over(root.path(), "java21").expect("found");
        assert_eq!(java, jdk25.join("bin/java"));
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime java21 wants Java 21, running with Java 25.0.3")
        );
        let (java, warning) = resolve_over(root.path(), "java8").expect("found");
        assert_eq!(java, jdk17.join("bin/java"));
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime java8 is deprecated: AWS Lambda no longer runs it; running with Java 17.0.15 instead of Java 8")
        );
        let (_, warning) = resolve_over(root.path(), "java8.al2").expect("found");
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime java8.al2 wants Java 8, running with Java 17.0.15")
        );
    }

    #[test]
    fn no_java_or_no_compiler_names_what_to_install() {
        let empty = tempfile::tempdir().expect("tempdir");
        let error = resolve_over(empty.path(), "java21").expect_err("no Java");
        assert_eq!(
            error,
            "Fn: runtime java21 needs Java: no Java 8 or newer was found (JAVA_HOME, `java` on PATH, /usr/lib/jvm); install a JDK (e.g. `apt install default-jdk-headless`) or set JAVA_HOME to one"
        );
        let jre_only = tempfile::tempdir().expect("tempdir");
        let jre = fake_installation(jre_only.path(), "jre-21", "21.0.4", false);
        let error = resolve_over(jre_only.path(), "java21").expect_err("no javac");
        assert_eq!(
            error,
            format!(
                "Fn: runtime java21 needs Java: Serverful compiles its Java bootstrap once with `javac`, and only a Java runtime without a compiler was found ({}); install a JDK (e.g. `apt install default-jdk-headless`) or set JAVA_HOME to one",
                jre.canonicalize().expect("canonical").display()
            )
        );
    }

    #[test]
    fn a_jre_borrows_another_jdks_compiler_at_its_own_release() {
        let root = tempfile::tempdir().expect("tempdir");
        fake_installation(root.path(), "jre-11", "11.0.2", false);
        fake_installation(root.path(), "jdk-17", "17.0.15", true);
        fake_installation(root.path(), "jdk-21", "21.0.4", true);
        let found = installations(&search(root.path()));
        let jre = found
            .iter()
            .find(|installation| installation.version == "11.0.2")
            .expect("the JRE");
        let compiler = compiler_for(&found, jre).expect("a compiler");
        assert!(compiler.javac.ends_with("jdk-21/bin/javac"), "{compiler:?}");
        assert_eq!(compiler.release, 11);
        assert_eq!(compiler.release_args(), ["--release", "11"]);
        let jdk17 = found
            .iter()
            .find(|installation| installation.version == "17.0.15")
            .expect("the JDK");
        let own = compiler_for(&found, jdk17).expect("its own compiler");
        assert!(own.javac.ends_with("jdk-17/bin/javac"), "{own:?}");
        assert_eq!(own.release, 17);
        let java8 = Compiler {
            javac: PathBuf::from("/jdk8/bin/javac"),
            version: "1.8.0_412".to_owned(),
            release: 8,
        };
        assert_eq!(java8.release_args(), ["-source", "1.8", "-target", "1.8"]);
    }

    #[test]
    fn jvm_options_follow_memory_size_and_java_tool_options() {
        assert_eq!(
            jvm_args(512, 21, None),
            [
                "-XX:MaxHeapSize=445645k",
                "-XX:MaxMetaspaceSize=52429k",
                "-XX:ReservedCodeCacheSize=26215k",
                "-XX:+UseSerialGC",
                "-Xshare:auto",
                "-XX:-UsePerfData",
                "-XX:+TieredCompilation",
                "-XX:TieredStopAtLevel=1",
                "-Dfile.encoding=UTF-8",
                "-jar",
            ]
        );
        // Java 11 and older start with the JVM's own tiered compilation, as on AWS.
        assert!(!jvm_args(512, 11, None)
            .iter()
            .any(|arg| arg.contains("Tiered")));
        let args = jvm_args(
            1024,
            21,
            Some("-Xmx300m -XX:+UseG1GC -XX:TieredStopAtLevel=4"),
        );
        assert_eq!(
            args,
            [
                "-XX:MaxMetaspaceSize=104858k",
                "-XX:ReservedCodeCacheSize=52429k",
                "-Xshare:auto",
                "-XX:-UsePerfData",
                "-Dfile.encoding=UTF-8",
                "-jar",
            ]
        );
    }

    /// Writes a jar holding `entries` (name, bytes).
    fn write_test_jar(path: &Path, entries: &[(&str, &[u8])]) {
        let file = std::fs::File::create(path).expect("create jar");
        let mut writer = zip::ZipWriter::new(file);
        for (name, bytes) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            writer.write_all(bytes).expect("write entry");
        }
        writer.finish().expect("finish jar");
    }

    /// Compiles `sources` (path, text) with the host's `javac` against the bootstrap's API
    /// classes into `out`.
    fn javac(sources: &[(&str, &str)], out: &Path) {
        let work = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        for (path, source) in SOURCES.iter().chain(sources) {
            let file = work.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, source).expect("write");
            files.push(file);
        }
        let output = Command::new("javac")
            .arg("-d")
            .arg(out)
            .args(["--release", "11", "-nowarn", "-Xlint:-options"])
            .args(&files)
            .output()
            .expect("javac runs (the tests need a JDK)");
        assert!(
            output.status.success(),
            "javac failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn handler_classes_are_found_in_the_folder_and_in_jars() {
        let classes = tempfile::tempdir().expect("tempdir");
        javac(
            &[
                (
                    "example/Hello.java",
                    "package example;\npublic class Hello extends Base {\n  public String greet(String name) { return name; }\n  private String hidden() { return \"\"; }\n}\n",
                ),
                (
                    "example/Base.java",
                    "package example;\npublic class Base implements com.amazonaws.services.lambda.runtime.RequestHandler<String, String> {\n  public String handleRequest(String input, com.amazonaws.services.lambda.runtime.Context context) { return input; }\n  public static void inherited() {}\n}\n",
                ),
                (
                    "example/Plain.java",
                    "package example;\npublic class Plain { public String run() { return \"\"; } }\n",
                ),
                (
                    "example/Remote.java",
                    "package example;\npublic class Remote extends java.util.ArrayList<String> {}\n",
                ),
            ],
            classes.path(),
        );
        let code = tempfile::tempdir().expect("tempdir");
        // Hello lies at the top of the code folder; Base and Plain in a jar under lib/.
        std::fs::create_dir_all(code.path().join("example")).expect("mkdir");
        for name in ["Hello", "Remote"] {
            std::fs::copy(
                classes.path().join(format!("example/{name}.class")),
                code.path().join(format!("example/{name}.class")),
            )
            .expect("copy");
        }
        std::fs::create_dir_all(code.path().join("lib")).expect("mkdir");
        let base = std::fs::read(classes.path().join("example/Base.class")).expect("read");
        let plain = std::fs::read(classes.path().join("example/Plain.class")).expect("read");
        write_test_jar(
            &code.path().join("lib/app.jar"),
            &[
                ("example/Base.class", base.as_slice()),
                ("example/Plain.class", plain.as_slice()),
            ],
        );

        let check = |handler: &str| {
            check_handler(&function(handler, code.path())).map_err(|error| error.to_string())
        };
        for good in [
            "example.Hello",
            "example.Hello::greet",
            "example.Hello::handleRequest",
            "example.Hello::inherited",
            "example.Base",
            "example.Plain::run",
            // ArrayList is the JDK's: what it has is left to the bootstrap.
            "example.Remote::add",
            "example.Remote",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        assert_eq!(
            check("example.Hello::hidden"),
            Err("JavaFunction: handler example.Hello::hidden: class example.Hello has no public method `hidden` (its public methods: greet, handleRequest, inherited); name one after `::`".to_owned())
        );
        assert_eq!(
            check("example.Plain"),
            Err("JavaFunction: handler example.Plain: class example.Plain implements neither RequestHandler nor RequestStreamHandler (com.amazonaws.services.lambda.runtime); implement one, or name the method to call: `example.Plain::method`".to_owned())
        );
        assert_eq!(
            check("example.Missing::handleRequest"),
            Err(format!(
                "JavaFunction: handler example.Missing::handleRequest: no class example.Missing: example/Missing.class is not in {} or its 1 jar; check the package and class name, and that the build puts compiled classes at the top of the code folder or in lib/*.jar",
                code.path().display()
            ))
        );
        for malformed in [
            "",
            "example.Hello::",
            "::handle",
            "example..Hello",
            "example/Hello",
        ] {
            let error = check(malformed).expect_err(malformed);
            assert!(error.ends_with("a Java handler looks like `package.Class::method` or `package.Class`, e.g. `example.Hello::handleRequest`"), "{error}");
        }
    }

    #[test]
    fn the_sources_list_holds_every_java_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bootstrap/java/src");
        let mut pending = vec![root.clone()];
        let mut on_disk = Vec::new();
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).expect("read dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "java") {
                    let relative = path.strip_prefix(&root).expect("under root");
                    on_disk.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let listed: Vec<String> = SOURCES.iter().map(|(path, _)| (*path).to_owned()).collect();
        assert_eq!(listed, on_disk);
    }

    /// The host's JDK (the one `javac` on PATH belongs to).
    fn host_compiler() -> Compiler {
        let found = installations(&JavaSearch::from_environment(None));
        let javac = std::fs::canonicalize(
            super::super::find_on_path("javac", &std::env::var_os("PATH").expect("PATH is set"))
                .expect("javac on PATH (the tests need a JDK)"),
        )
        .expect("canonical javac");
        let installation = found
            .iter()
            .find(|installation| installation.javac.as_ref() == Some(&javac))
            .expect("javac's installation");
        compiler_for(&found, installation).expect("a compiler")
    }

    #[test]
    fn the_bootstrap_compiles_once_into_a_runnable_jar() {
        let compiler = host_compiler();
        let runtime_dir = tempfile::tempdir().expect("tempdir");
        let relative = compile("Fn", runtime_dir.path(), &compiler).expect("compiled");
        assert!(relative.starts_with("java/") && relative.ends_with("/bootstrap.jar"));
        let jar = runtime_dir.path().join(relative);
        let modified = jar.metadata().and_then(|m| m.modified()).expect("mtime");
        // Compiled once: the second call finds the build.
        assert_eq!(
            compile("Fn", runtime_dir.path(), &compiler).expect("again"),
            relative
        );
        assert_eq!(
            jar.metadata().and_then(|m| m.modified()).expect("mtime"),
            modified
        );
        // Only the build is left: no scratch folders.
        let java_dir = runtime_dir.path().join("java");
        let entries: Vec<_> = std::fs::read_dir(&java_dir)
            .expect("read")
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let mut archive =
            zip::ZipArchive::new(std::fs::File::open(&jar).expect("open")).expect("a jar");
        let mut manifest = String::new();
        archive
            .by_name("META-INF/MANIFEST.MF")
            .expect("manifest")
            .read_to_string(&mut manifest)
            .expect("read");
        assert!(
            manifest.contains("Main-Class: serverful.bootstrap.Main"),
            "{manifest}"
        );
        archive
            .by_name("com/amazonaws/services/lambda/runtime/Context.class")
            .expect("the core API is in the jar");
        // Another compiler or release is another build.
        let other = Compiler {
            release: 8,
            ..compiler.clone()
        };
        assert_ne!(bootstrap_path(&other), relative);
    }

    #[test]
    fn a_compiler_that_fails_shows_its_output() {
        let root = tempfile::tempdir().expect("tempdir");
        let javac = root.path().join("javac");
        std::fs::write(
            &javac,
            "#!/bin/sh\necho 'error: broken compiler' >&2\nexit 2\n",
        )
        .expect("write");
        std::fs::set_permissions(&javac, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let compiler = Compiler {
            javac: javac.clone(),
            version: "17.0.15".to_owned(),
            release: 17,
        };
        let runtime_dir = tempfile::tempdir().expect("tempdir");
        let error = compile("Fn", runtime_dir.path(), &compiler).expect_err("fails");
        assert_eq!(
            error.to_string(),
            format!(
                "Fn: failed to compile Serverful's Java bootstrap with {}: error: broken compiler",
                javac.display()
            )
        );
        let java_dir = runtime_dir.path().join("java");
        assert_eq!(
            std::fs::read_dir(java_dir).expect("read").count(),
            0,
            "the scratch folder is removed"
        );
    }
}
