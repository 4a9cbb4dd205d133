//! Reading event files: JSON (one document or a stream) or YAML (one or
//! more documents). Events are read leniently — the cluster-info dump
//! spelling is not a Kubernetes object — so this is not the manifest loader.

use serde_json::Value;

/// Every document of `text` as JSON; null documents are dropped.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(trimmed).into_iter::<Value>() {
            out.push(v.map_err(|e| format!("not valid JSON: {e}"))?);
        }
        return Ok(out);
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::documents;

    #[test]
    fn json_streams_and_yaml_documents() {
        assert_eq!(documents("{\"a\": 1} {\"b\": 2}").unwrap().len(), 2);
        assert_eq!(documents("a: 1\n---\nb: 2\n---\n").unwrap().len(), 2);
        assert!(documents("{").unwrap_err().starts_with("not valid JSON"));
        assert!(documents("a: [1\n").is_err());
    }
}
