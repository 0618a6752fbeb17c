//! `BuildMethod: makefile`: `make build-<LogicalId>` with `ARTIFACTS_DIR` pointing at the
//! build folder, as `sam build` runs it, in a scratch copy of the sources that keeps the
//! Makefile's intermediate files out of both the source and the output.

use super::Step;
use crate::tool::ToolCommand;
use crate::BuildError;

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    let code_dir = &step.request.code_dir;
    let makefile = ["GNUmakefile", "makefile", "Makefile"]
        .iter()
        .map(|name| code_dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| BuildError::MakefileMissing {
            logical_id: step.logical_id().to_owned(),
            code_dir: code_dir.clone(),
        })?;
    let scratch = step.scratch_copy()?;
    let target = format!("build-{}", step.logical_id());
    let command = ToolCommand::new("make", scratch.path())
        .arg(&target)
        .env("ARTIFACTS_DIR", step.build_dir);
    let result = step.run(
        &command,
        &format!("make {target}"),
        "make",
        "install make (e.g. `apt install make`)",
    );
    match result {
        Err(BuildError::ToolFailed { output, .. })
            if output.contains("No rule to make target") && output.contains(&target) =>
        {
            Err(BuildError::MakeTargetMissing {
                logical_id: step.logical_id().to_owned(),
                target,
                makefile,
            })
        }
        other => other,
    }
}
