//! `up --watch`: when a function's code (or a layer it uses) changes, rebuild only that
//! function and switch it to the new version; requests in flight finish on the old one,
//! none fails.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{EventKind, RecursiveMode, Watcher as _};
use serverful_template as template;

use serverful_platform::Platform;

use crate::app;

/// Changes closer together than this are one change (editors write files in steps).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Folders whose changes never mean the code changed: dependencies, caches, our data.
const IGNORED_FOLDERS: &[&str] = &[
    "node_modules",
    "__pycache__",
    ".git",
    ".aws-sam",
    ".serverful",
];

/// Starts watching every function's code folder and the template. The watch runs until
/// the server stops.
pub(crate) fn spawn(
    app: Arc<template::App>,
    data_dir: PathBuf,
    stack: String,
    platform: Arc<Platform>,
) -> anyhow::Result<()> {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<notify::Event>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let _ = sender.send(event);
            }
            Err(error) => tracing::warn!("file watching failed: {error}"),
        })
        .context("start watching files")?;

    let mut sources: Vec<(String, PathBuf)> = app
        .functions
        .iter()
        .filter_map(|function| match &function.code {
            template::FunctionCode::Dir(dir) => Some((function.logical_id.clone(), dir.clone())),
            template::FunctionCode::Inline(_) => None,
        })
        .collect();
    let n_functions = sources.len();
    // A layer's folder is code of every function that uses it.
    for function in &app.functions {
        for used in &function.layers {
            let template::LayerRef::Local(id) = used else {
                continue;
            };
            if let Some(layer) = app.layers.iter().find(|layer| layer.logical_id == *id) {
                if layer.content_dir.is_dir() {
                    sources.push((function.logical_id.clone(), layer.content_dir.clone()));
                }
            }
        }
    }
    let folders: BTreeSet<&PathBuf> = sources.iter().map(|(_, dir)| dir).collect();
    for folder in folders {
        watcher
            .watch(folder, RecursiveMode::Recursive)
            .with_context(|| format!("watch {}", folder.display()))?;
    }
    watcher
        .watch(&app.template_path, RecursiveMode::NonRecursive)
        .with_context(|| format!("watch {}", app.template_path.display()))?;
    eprintln!("watching {n_functions} function folders for changes");

    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while let Some(first) = receiver.recv().await {
            let mut changed: Vec<PathBuf> = relevant_paths(&first, &data_dir);
            tokio::time::sleep(DEBOUNCE).await;
            while let Ok(event) = receiver.try_recv() {
                changed.extend(relevant_paths(&event, &data_dir));
            }
            if changed.is_empty() {
                continue;
            }
            if changed.iter().any(|path| path == &app.template_path) {
                eprintln!(
                    "warning: {} changed: restart `serverful up` to apply template changes",
                    app.template_path.display()
                );
            }
            let affected: BTreeSet<&str> = sources
                .iter()
                .filter(|(_, dir)| {
                    changed
                        .iter()
                        .any(|path| path.starts_with(dir) && path != &app.template_path)
                })
                .map(|(logical_id, _)| logical_id.as_str())
                .collect();
            for logical_id in affected {
                reload(&app, &data_dir, &stack, &platform, logical_id).await;
            }
        }
    });
    Ok(())
}

/// Rebuilds one function and switches to the new version; on failure the old version
/// keeps serving and the error is shown.
async fn reload(
    app: &template::App,
    data_dir: &Path,
    stack: &str,
    platform: &Arc<Platform>,
    logical_id: &str,
) {
    let config =
        match app::prepare_functions(app, data_dir, Some(logical_id), app::CodeVersions::Pinned)
            .await
        {
            Ok(mut configs) if configs.len() == 1 => configs.remove(0),
            Ok(_) => return,
            Err(error) => {
                eprintln!(
                    "error: {logical_id} not reloaded, the old version keeps serving: {error:#}"
                );
                return;
            }
        };
    match platform.replace_function(stack, config) {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!("reloaded {logical_id}");
        }
        Err(error) => {
            eprintln!("error: {logical_id} not reloaded, the old version keeps serving: {error}")
        }
    }
}

/// The paths of an event that can mean a code change: creations, removals and content
/// changes, outside dependency and cache folders and editors' scratch files.
fn relevant_paths(event: &notify::Event, data_dir: &Path) -> Vec<PathBuf> {
    let content_change = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(notify::event::ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    if !content_change {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|path| !path.starts_with(data_dir) && !is_ignored(path))
        .cloned()
        .collect()
}

fn is_ignored(path: &Path) -> bool {
    let in_ignored_folder = path.components().any(|component| match component {
        Component::Normal(name) => IGNORED_FOLDERS.iter().any(|ignored| name == *ignored),
        _ => false,
    });
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let editor_scratch = file_name.ends_with('~')
        || file_name.ends_with(".swp")
        || file_name.ends_with(".swx")
        || file_name.starts_with(".#")
        || file_name == "4913";
    in_ignored_folder || editor_scratch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_folders_and_editor_files_are_not_code_changes() {
        assert!(is_ignored(Path::new("/app/node_modules/x/index.js")));
        assert!(is_ignored(Path::new(
            "/app/src/__pycache__/app.cpython-311.pyc"
        )));
        assert!(is_ignored(Path::new("/app/src/.app.py.swp")));
        assert!(is_ignored(Path::new("/app/src/app.py~")));
        assert!(!is_ignored(Path::new("/app/src/app.py")));
        assert!(!is_ignored(Path::new("/app/requirements.txt")));
    }
}
