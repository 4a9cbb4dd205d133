//! YAML reading for every serde-based reader in kplug (manifests, event
//! files, NodeFeature lists, rules): parser budgets sized for the files real
//! clusters produce (`kubectl get events -A -o yaml` of a large cluster has
//! millions of nodes), alias expansion bounded so a few hundred bytes cannot
//! expand into gigabytes, and errors phrased for a person.

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;

use crate::limits::{Limit, Unit};

/// Nodes (mappings, sequences, scalars) in one YAML input.
pub const NODES: Limit = Limit {
    what: "YAML nodes in one input",
    env: "KPLUG_MAX_YAML_NODES",
    default: 20_000_000,
    unit: Unit::Count,
};

/// Nodes that aliases (`*name`) may add by expansion, over one input.
pub const ALIAS_NODES: Limit = Limit {
    what: "YAML nodes added by alias expansion",
    env: "KPLUG_MAX_YAML_ALIAS_NODES",
    default: 1_000_000,
    unit: Unit::Count,
};

/// Nesting of mappings and sequences.
pub const DEPTH: Limit = Limit {
    what: "levels of YAML nesting",
    env: "KPLUG_MAX_YAML_DEPTH",
    default: 256,
    unit: Unit::Count,
};

/// Every YAML limit, for documentation and tests.
pub const LIMITS: [&Limit; 3] = [&NODES, &ALIAS_NODES, &DEPTH];

/// Parser options with kplug's budgets for an input of `len` bytes. Alias
/// expansion may add ten nodes per input byte (at least 10,000), up to
/// [`ALIAS_NODES`]: as go-yaml does, a small document gets little room.
pub fn options(len: usize) -> serde_saphyr::Options {
    // Read from the environment once: manifests parse one document at a time.
    static IN_FORCE: std::sync::OnceLock<(usize, usize, usize)> = std::sync::OnceLock::new();
    let &(nodes, max_alias_nodes, depth) = IN_FORCE.get_or_init(|| {
        (
            NODES.get_usize(),
            ALIAS_NODES.get_usize(),
            DEPTH.get_usize(),
        )
    });
    let alias_nodes = len.saturating_mul(10).max(10_000).min(max_alias_nodes);
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: None,
            max_events: nodes.saturating_mul(2),
            max_nodes: nodes,
            max_documents: nodes,
            max_aliases: alias_nodes,
            max_anchors: alias_nodes,
            max_recorded_anchor_events: alias_nodes,
            max_total_scalar_bytes: usize::MAX,
            max_depth: depth,
            flow_nesting_limit: depth,
            // Many aliases to few anchors is how ordinary files reuse blocks;
            // expansion is bounded by the replay limit below instead.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: alias_nodes,
            max_replay_stack_depth: depth,
        },
    }
}

/// One document.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options(text.len()))
}

/// Every document of a stream.
pub fn from_multiple<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, serde_saphyr::Error> {
    serde_saphyr::from_multiple_with_options(text, options(text.len()))
}

/// `line N: message`, for a document that is one file (the caller names it).
pub fn line_message(e: &serde_saphyr::Error) -> String {
    format!(
        "line {}: {}",
        e.location().map_or(0, |l| l.line() as usize),
        message(e)
    )
}

/// A parse error as one line for a person: which limit was hit and how to
/// raise it, or the parser's own words without its snippet and position
/// (callers print the file and line themselves).
pub fn message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    let mut e = e;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = e {
        e = error;
    }
    match e {
        E::Budget { breach, .. } => budget_message(breach),
        E::AliasReplayLimitExceeded { .. } | E::AliasExpansionLimitExceeded { .. } => {
            ALIAS_NODES.exceeded("aliases expand too far")
        }
        E::AliasReplayStackDepthExceeded { .. } => DEPTH.exceeded("aliases nest too deeply"),
        E::DuplicateMappingKey { key: Some(k), .. } => {
            format!("mapping key {k:?} is defined twice")
        }
        E::DuplicateMappingKey { key: None, .. } => "a mapping key is defined twice".into(),
        other => {
            let text = other.to_string();
            if text.contains("recursion limit") {
                return DEPTH.exceeded("the input nests too deeply");
            }
            let first = text.lines().next().unwrap_or("invalid YAML").trim();
            match first.rfind(" at line ") {
                Some(i) => first[..i].to_string(),
                None => first.to_string(),
            }
        }
    }
}

fn budget_message(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Nodes { .. }
        | BudgetBreach::Events { .. }
        | BudgetBreach::Documents { .. } => NODES.exceeded("the input is too large"),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. } => {
            ALIAS_NODES.exceeded("anchors and aliases expand too far")
        }
        BudgetBreach::Depth { .. } => DEPTH.exceeded("the input nests too deeply"),
        other => format!("the input exceeds a YAML parser limit ({other:?})"),
    }
}

/// A hostile input for tests of every YAML reader: nine levels of nine
/// aliases (342 bytes), 9^9 nodes if expanded, after `head` (which must end
/// in a newline and hold top-level keys).
pub fn alias_bomb(head: &str) -> String {
    let mut text = format!("{head}a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let start = std::time::Instant::now();
        let err = from_str::<Value>(&alias_bomb("")).unwrap_err();
        assert!(start.elapsed().as_secs() < 5);
        let m = message(&err);
        assert!(m.contains("KPLUG_MAX_YAML_ALIAS_NODES"), "{m}");
    }

    #[test]
    fn large_ordinary_inputs_parse() {
        // 400,000 nodes: over serde-saphyr's default budget of 250,000.
        let mut text = String::from("items:\n");
        for i in 0..100_000 {
            text.push_str(&format!("- {{a: {i}, b: x}}\n"));
        }
        let v: Value = from_str(&text).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 100_000);
        // Over a thousand documents (serde-saphyr's default).
        let docs = "a: 1\n---\n".repeat(3000);
        assert_eq!(from_multiple::<Value>(&docs).unwrap().len(), 3000);
    }

    #[test]
    fn depth_and_duplicates_read_well() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let m = message(&from_str::<Value>(&deep).unwrap_err());
        assert!(m.contains("KPLUG_MAX_YAML_DEPTH"), "{m}");
        let m = message(&from_str::<Value>("a: 1\na: 2\n").unwrap_err());
        assert_eq!(m, "mapping key \"a\" is defined twice");
        assert!(!m.contains("Options"));
    }
}
