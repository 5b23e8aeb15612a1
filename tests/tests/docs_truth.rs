//! The cheap parts of the docs kept true by a test: every example folder
//! has a README and is named in docs/ARCHITECTURE.md and the README; every
//! crate's README names each public module of its crate; no doc or code
//! comment points at a file outside the repository (`../shared`, which a
//! user's clone does not have).

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_example_has_a_readme_and_is_listed() {
    let root = root();
    let readme = read(&root.join("README.md"));
    let arch = read(&root.join("docs/ARCHITECTURE.md"));
    let mut missing = Vec::new();
    let mut names: Vec<String> = fs::read_dir(root.join("examples/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 25, "{names:?}");
    for name in &names {
        let dir = root.join("examples/src/bin").join(name);
        if !dir.join("README.md").is_file() {
            missing.push(format!("examples/src/bin/{name}/README.md does not exist"));
        }
        if !dir.join("main.rs").is_file() {
            missing.push(format!("examples/src/bin/{name} has no main.rs"));
        }
        let as_word = |text: &str| {
            text.match_indices(name.as_str()).any(|(i, _)| {
                let before = text[..i].chars().next_back();
                let after = text[i + name.len()..].chars().next();
                let word = |c: Option<char>| {
                    c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
                };
                !word(before) && !word(after)
            })
        };
        if !as_word(&arch) {
            missing.push(format!(
                "docs/ARCHITECTURE.md does not name the example `{name}`"
            ));
        }
        if !readme.contains(&format!("`{name}`"))
            && !readme.contains(&format!("examples/src/bin/{name}/"))
            && !readme.contains(&format!("--bin {name}"))
        {
            missing.push(format!(
                "README.md does not name the example `{name}` (`{name}`, a link to its folder or `--bin {name}`)"
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The `pub mod NAME` lines of a crate's lib.rs.
fn public_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches([';', '{', ' ']).to_string())
        .collect()
}

#[test]
fn every_crate_readme_names_its_public_modules() {
    let root = root();
    let mut crates: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    crates.push(root.join("datasets"));
    crates.sort();
    let mut missing = Vec::new();
    for dir in crates {
        let lib = dir.join("src/lib.rs");
        if !lib.is_file() {
            continue;
        }
        let readme = read(&dir.join("README.md"));
        for m in public_modules(&read(&lib)) {
            if !readme.contains(&format!("`{m}`")) && !readme.contains(&format!("`{m}::")) {
                missing.push(format!(
                    "{}/README.md does not name its public module `{m}`",
                    dir.display()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every file under `dir` with one of `exts`, but build output and VCS.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "runs" {
                files(&p, exts, out);
            }
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

#[test]
fn no_doc_or_comment_points_outside_the_repository() {
    let root = root();
    let mut all = Vec::new();
    files(&root, &["rs", "md", "py", "toml"], &mut all);
    let mut bad = Vec::new();
    for p in all {
        let rel = p.strip_prefix(&root).unwrap().display().to_string();
        for (i, line) in read(&p).lines().enumerate() {
            let is_comment = {
                let t = line.trim_start();
                t.starts_with("//") || t.starts_with('#') || rel.ends_with(".md")
            };
            // `../shared/...` in a command that a user runs beside the
            // clone (the conformance cases) is an instruction, not a
            // pointer to a file the repository should have: code spans
            // and indented commands in the docs may name it.
            let points_out = line.contains("shared/conformance/SPEC.md")
                || line.contains("shared/DESIGN.md")
                || (line.contains("](../shared") || line.contains("](../../shared"));
            if is_comment && points_out {
                bad.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
