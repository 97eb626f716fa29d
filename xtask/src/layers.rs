//! The layer check: ARCHITECTURE.md's "Layers" table says, for every crate
//! of the workspace, which workspace crates it may depend on and which
//! libraries it must never reach, directly or through others. This reads
//! that table and `cargo metadata`'s resolved graph and fails on anything
//! the table does not allow — so the document and the code cannot drift
//! apart silently (rerun's `scripts/check_forbidden_dependencies.py` is
//! the model).
//!
//! Dev-dependencies are not checked: tests may use anything. Build
//! dependencies are, as they are code the crate runs.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// One row of the table.
#[derive(Debug)]
struct Rule {
    /// Workspace crates it may depend on.
    may_use: BTreeSet<String>,
    /// Packages that must not appear among its (transitive) dependencies.
    never: BTreeSet<String>,
}

const HEADING: &str = "## Layers";

/// Check the workspace at `root` against its ARCHITECTURE.md.
pub fn check(root: &Path) -> Result<()> {
    let doc =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("reading ARCHITECTURE.md")?;
    let rules = rules_from_markdown(&doc)?;
    // The graph as built here: other platforms' dependencies (wasm's
    // tokio under wgpu, say) are not this build's.
    let host = host_triple()?;
    let metadata = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
        ])
        .arg(&host)
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !metadata.status.success() {
        bail!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&metadata.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&metadata.stdout).context("reading cargo metadata's output")?;
    let problems = problems(&rules, &Graph::from_metadata(&metadata)?);
    if problems.is_empty() {
        eprintln!(
            "xtask: layers: {} crates keep to ARCHITECTURE.md's table",
            rules.len()
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("xtask: layers: {problem}");
    }
    bail!(
        "{} dependencies break ARCHITECTURE.md's layers",
        problems.len()
    )
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

/// The rows under the "## Layers" heading: `| `crate` | `a`, `b` | `x`, `y` |`
/// (— for none).
fn rules_from_markdown(doc: &str) -> Result<BTreeMap<String, Rule>> {
    let section = doc
        .split_once(&format!("\n{HEADING}"))
        .map(|(_, after)| after)
        .context("ARCHITECTURE.md has no \"## Layers\" section")?;
    let ticked = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut rules = BTreeMap::new();
    for line in section.lines().skip(1) {
        let line = line.trim();
        if line.starts_with("## ") {
            break;
        }
        if !line.starts_with('|') || line.starts_with("|---") || line.starts_with("| crate") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 3 {
            bail!("ARCHITECTURE.md, layers: a row needs three cells: {line}");
        }
        let name = ticked(cells[0])
            .into_iter()
            .next()
            .with_context(|| format!("ARCHITECTURE.md, layers: no `crate` in {line}"))?;
        rules.insert(
            name,
            Rule {
                may_use: ticked(cells[1]),
                never: ticked(cells[2]),
            },
        );
    }
    if rules.is_empty() {
        bail!("ARCHITECTURE.md's layers table has no rows");
    }
    Ok(rules)
}

/// The resolved dependency graph, by package name.
struct Graph {
    workspace: BTreeSet<String>,
    /// Each package's non-dev dependencies.
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn from_metadata(metadata: &Value) -> Result<Graph> {
        let name_of: BTreeMap<&str, &str> = metadata["packages"]
            .as_array()
            .context("metadata: packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let workspace = metadata["workspace_members"]
            .as_array()
            .context("metadata: workspace_members")?
            .iter()
            .filter_map(|id| name_of.get(id.as_str()?).map(|n| n.to_string()))
            .collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .context("metadata: resolve")?
        {
            let Some(name) = node["id"].as_str().and_then(|id| name_of.get(id)) else {
                continue;
            };
            let deps = edges.entry(name.to_string()).or_default();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let not_dev_only = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].as_str() != Some("dev"));
                if let Some(dep_name) = dep["pkg"].as_str().and_then(|id| name_of.get(id))
                    && not_dev_only
                {
                    deps.insert(dep_name.to_string());
                }
            }
        }
        Ok(Graph { workspace, edges })
    }

    /// Everything `name` reaches through non-dev dependencies, with the
    /// path to each (for the message).
    fn reach(&self, name: &str) -> BTreeMap<String, Vec<String>> {
        let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([vec![name.to_owned()]]);
        while let Some(path) = queue.pop_front() {
            let last = path.last().expect("a path is never empty");
            for dep in self.edges.get(last).into_iter().flatten() {
                if dep != name && !paths.contains_key(dep) {
                    let mut longer = path.clone();
                    longer.push(dep.clone());
                    paths.insert(dep.clone(), longer.clone());
                    queue.push_back(longer);
                }
            }
        }
        paths
    }
}

fn problems(rules: &BTreeMap<String, Rule>, graph: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    for member in &graph.workspace {
        let Some(rule) = rules.get(member) else {
            problems.push(format!(
                "{member} is not in ARCHITECTURE.md's layers table: give it a row"
            ));
            continue;
        };
        for dep in graph.edges.get(member).into_iter().flatten() {
            if graph.workspace.contains(dep) && !rule.may_use.contains(dep) {
                problems.push(format!(
                    "{member} depends on {dep}, which its layer does not allow"
                ));
            }
        }
        for (reached, path) in graph.reach(member) {
            if rule.never.contains(&reached) {
                problems.push(format!(
                    "{member} must never depend on {reached}, but does: {}",
                    path.join(" → ")
                ));
            }
        }
    }
    for name in rules.keys() {
        if !graph.workspace.contains(name) {
            problems.push(format!(
                "ARCHITECTURE.md's layers table names {name}, which is not a workspace crate"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])], workspace: &[&str]) -> Graph {
        Graph {
            workspace: workspace.iter().map(|s| s.to_string()).collect(),
            edges: edges
                .iter()
                .map(|(from, to)| (from.to_string(), to.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    const DOC: &str = "intro\n\n## Layers\n\n| crate | may use | never |\n|---|---|---|\n\
        | `low` | — | `wgpu` |\n| `high` | `low` | — |\n\n## Next\n| `ignored` | — | — |\n";

    #[test]
    fn the_table_is_read() {
        let rules = rules_from_markdown(DOC).expect("rules");
        assert_eq!(rules.len(), 2);
        assert!(rules["low"].never.contains("wgpu"));
        assert!(rules["high"].may_use.contains("low"));
    }

    #[test]
    fn a_forbidden_library_reached_through_another_is_found() {
        let rules = rules_from_markdown(DOC).expect("rules");
        let g = graph(
            &[
                ("low", &["helper"]),
                ("helper", &["wgpu"]),
                ("high", &["low"]),
            ],
            &["low", "high"],
        );
        let found = problems(&rules, &g);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("low → helper → wgpu"), "{found:?}");
    }

    #[test]
    fn an_upward_dependency_and_an_unlisted_crate_are_found() {
        let rules = rules_from_markdown(DOC).expect("rules");
        let g = graph(
            &[("low", &["high"]), ("high", &[]), ("new", &[])],
            &["low", "high", "new"],
        );
        let found = problems(&rules, &g);
        assert!(found.iter().any(|p| p.contains("low depends on high")));
        assert!(found.iter().any(|p| p.contains("new is not in")));
    }
}
