//! The pip build (Python's default when there is a `requirements.txt`): the sources
//! copied, then the requirements installed beside them with `pip install -t`.

use super::Step;
use crate::tool::{PythonChoice, ToolCommand};
use crate::BuildError;

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    step.copy_sources(step.build_dir)?;
    let python = match step.pythons.find(&step.request.runtime) {
        PythonChoice::Found(python) => python,
        PythonChoice::NoPip(python) => {
            return Err(BuildError::ToolMissing {
                logical_id: step.logical_id().to_owned(),
                tool: "pip".to_owned(),
                hint: format!("install pip for `{python}` (e.g. `apt install python3-pip`)"),
            })
        }
        PythonChoice::NoPython => {
            return Err(BuildError::ToolMissing {
                logical_id: step.logical_id().to_owned(),
                tool: "python3".to_owned(),
                hint: format!(
                    "install Python 3 with pip (ideally {})",
                    step.request.runtime
                ),
            })
        }
    };
    let build_dir = step.build_dir;
    let command = ToolCommand::new(&python, build_dir)
        .arg("-m")
        .arg("pip")
        .arg("install")
        .arg("--quiet")
        .arg("--no-input")
        .arg("-r")
        .arg(build_dir.join("requirements.txt"))
        .arg("-t")
        .arg(build_dir)
        // Environment variables rather than flags: an older pip ignores unknown ones
        // but rejects unknown flags.
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore");
    step.run(&command, "pip install", "pip", "install pip for python3")
}
