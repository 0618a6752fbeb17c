//! Functions' `Layers` made ready to run: the template's layers built, the public layers
//! Serverful knows installed or explained, the others warned about, and each function's
//! layers merged in order into the one folder its instances see at `/opt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serverful_build as build;
use serverful_catalog::PublicLayer;
use serverful_runtime as runtime;
use serverful_template as template;

/// What one function needs from its layers: its name, runtime, whether it runs in HTTP
/// mode, and its `Layers` in order.
#[derive(Debug, Clone)]
pub(crate) struct FunctionLayers {
    pub function: String,
    pub runtime: String,
    pub http_mode: bool,
    pub layers: Vec<template::LayerRef>,
}

impl FunctionLayers {
    pub(crate) fn of(function: &template::Function) -> FunctionLayers {
        let http_mode = matches!(
            runtime::http_mode::FunctionMode::from_environment(&function.environment),
            Ok(runtime::http_mode::FunctionMode::Http(_))
        );
        FunctionLayers {
            function: function.logical_id.clone(),
            runtime: function.runtime.clone(),
            http_mode,
            layers: function.layers.clone(),
        }
    }
}

/// Each function's merged layers folder (functions without layer files have none), and
/// what the user should know about layers that cannot be provided.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub merged: BTreeMap<String, PathBuf>,
    /// One sentence each, for `warning: ` lines.
    pub warnings: Vec<String>,
}

/// Builds and merges the layers of `functions`. Blocking: call it off the async runtime.
pub(crate) fn prepare(
    layers: &[template::Layer],
    functions: &[FunctionLayers],
    data_dir: &Path,
) -> anyhow::Result<Prepared> {
    let options = crate::builds::build_options(data_dir, false);
    let mut warnings = Vec::new();

    // The template's layers that these functions use, each built once, in template order.
    let used: Vec<&template::Layer> = layers
        .iter()
        .filter(|layer| {
            functions.iter().any(|function| {
                function.layers.iter().any(
                    |used| matches!(used, template::LayerRef::Local(id) if *id == layer.logical_id),
                )
            })
        })
        .collect();
    let requests: Vec<build::LayerRequest> = used
        .iter()
        .map(|layer| build::LayerRequest {
            logical_id: layer.logical_id.clone(),
            content_dir: layer.content_dir.clone(),
            build_method: layer.build_method.clone(),
        })
        .collect();
    for function in functions {
        for used in &function.layers {
            let template::LayerRef::Local(id) = used else {
                continue;
            };
            let Some(layer) = layers.iter().find(|layer| layer.logical_id == *id) else {
                continue;
            };
            if !layer.compatible_runtimes.is_empty()
                && !layer.compatible_runtimes.contains(&function.runtime)
            {
                warnings.push(format!(
                    "{}: layer {id} lists CompatibleRuntimes {}, not {}; using it anyway",
                    function.function,
                    layer.compatible_runtimes.join(", "),
                    function.runtime
                ));
            }
        }
    }

    // The layers named by ARN: one decision per ARN, however many functions name it.
    let mut arns: Vec<(&str, Vec<&FunctionLayers>)> = Vec::new();
    for function in functions {
        for used in &function.layers {
            if let template::LayerRef::Arn(arn) = used {
                match arns.iter_mut().find(|(known, _)| *known == arn.as_str()) {
                    Some((_, users)) => users.push(function),
                    None => arns.push((arn.as_str(), vec![function])),
                }
            }
        }
    }
    let n_installs = arns
        .iter()
        .filter(|(arn, _)| {
            matches!(
                serverful_catalog::public_layer(arn),
                Some(
                    PublicLayer::PowertoolsPython { .. } | PublicLayer::PowertoolsTypeScript { .. }
                )
            )
        })
        .count();

    let (built, installed) = crate::builds::with_progress(requests.len() + n_installs, |on_event| {
        let built = build::build_layers(&requests, &options, on_event)?;
        let mut installed: BTreeMap<&str, PathBuf> = BTreeMap::new();
        for (arn, users) in &arns {
            let names: Vec<&str> = users.iter().map(|user| user.function.as_str()).collect();
            let install = match serverful_catalog::public_layer(arn) {
                Some(PublicLayer::PowertoolsPython { major }) => {
                    build::PublicLayerInstall::PowertoolsPython {
                        major,
                        runtime: &users[0].runtime,
                    }
                }
                Some(PublicLayer::PowertoolsTypeScript { major }) => {
                    build::PublicLayerInstall::PowertoolsTypeScript {
                        major,
                        packages: serverful_catalog::powertools_typescript_packages(major),
                    }
                }
                Some(PublicLayer::WebAdapter) => {
                    let lambda_mode: Vec<&str> = users
                        .iter()
                        .filter(|user| !user.http_mode)
                        .map(|user| user.function.as_str())
                        .collect();
                    if !lambda_mode.is_empty() {
                        warnings.push(format!(
                            "layer {arn} (AWS Lambda Web Adapter), used by {}: not needed, Serverful's HTTP mode does what it does; set AWS_LWA_PORT (or AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap and PORT) in the function's environment to run it as a web server",
                            lambda_mode.join(", ")
                        ));
                    }
                    continue;
                }
                None => {
                    warnings.push(format!(
                        "layer {arn}, used by {}, is not in the template and cannot be downloaded; the function runs without it (hint: put the layer's files in a folder and declare it as an AWS::Serverless::LayerVersion with that ContentUri)",
                        names.join(", ")
                    ));
                    continue;
                }
            };
            match build::install_public_layer(install, &options, names[0], &mut *on_event) {
                Ok(dir) => {
                    installed.insert(arn, dir);
                }
                Err(warning) => warnings.push(format!(
                    "layer {arn}, used by {}: {warning}; the function runs without it",
                    names.join(", ")
                )),
            }
            on_event(build::BuildEvent::Finished {
                logical_id: names[0],
                cached: false,
            });
        }
        Ok::<_, build::BuildError>((built, installed))
    })
    .map_err(|error| anyhow::anyhow!("{error}"))?;

    let layers_root = data_dir.join("layers");
    let mut merged = BTreeMap::new();
    for function in functions {
        let dirs: Vec<PathBuf> = function
            .layers
            .iter()
            .filter_map(|used| match used {
                template::LayerRef::Local(id) => built
                    .iter()
                    .find(|output| output.logical_id == *id)
                    .map(|output| output.dir.clone()),
                template::LayerRef::Arn(arn) => installed.get(arn.as_str()).cloned(),
            })
            .collect();
        if let Some(dir) = build::merge_layers(&function.function, &dirs, &layers_root)
            .map_err(|error| anyhow::anyhow!("{error}"))?
        {
            merged.insert(function.function.clone(), dir);
        }
    }
    Ok(Prepared { merged, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(name: &str, http_mode: bool, arns: &[&str]) -> FunctionLayers {
        FunctionLayers {
            function: name.to_owned(),
            runtime: "nodejs20.x".to_owned(),
            http_mode,
            layers: arns
                .iter()
                .map(|arn| template::LayerRef::Arn((*arn).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn public_layers_get_one_warning_each_and_the_web_adapter_is_explained() {
        let data = tempfile::tempdir().expect("tempdir");
        let adapter = "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86:25";
        let unknown = "arn:aws:lambda:us-east-1:111111111111:layer:Theirs:2";
        let prepared = prepare(
            &[],
            &[
                function("Web", true, &[adapter, unknown]),
                function("Plain", false, &[adapter, unknown]),
            ],
            data.path(),
        )
        .expect("prepared");
        assert!(prepared.merged.is_empty(), "nothing to merge");
        assert_eq!(
            prepared.warnings,
            [
                format!("layer {adapter} (AWS Lambda Web Adapter), used by Plain: not needed, Serverful's HTTP mode does what it does; set AWS_LWA_PORT (or AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap and PORT) in the function's environment to run it as a web server"),
                format!("layer {unknown}, used by Web, Plain, is not in the template and cannot be downloaded; the function runs without it (hint: put the layer's files in a folder and declare it as an AWS::Serverless::LayerVersion with that ContentUri)"),
            ]
        );

        // In HTTP mode the adapter is what Serverful does anyway: nothing to say.
        let prepared =
            prepare(&[], &[function("Web", true, &[adapter])], data.path()).expect("prepared");
        assert!(prepared.warnings.is_empty(), "{:?}", prepared.warnings);
    }
}
