//! `--profile FILE`: a built-in profile with some constants changed, as
//! YAML or JSON — `base: blog` (the default base) and any [`StepModel`]
//! field by its camelCase name.

use super::server::StepModel;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    Yaml(String),
    #[error("a profile is a mapping of StepModel fields")]
    NotAMapping,
    #[error("base {0:?} is not a built-in profile (blog, h100-llama2-7b, gie-sim)")]
    UnknownBase(String),
    #[error("{field}: {source}")]
    Field {
        field: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{field} must be above 0")]
    NotPositive { field: &'static str },
}

/// The profile `text` describes.
pub fn read(text: &str) -> Result<StepModel, ProfileError> {
    let doc: serde_json::Value =
        kplug::yaml::from_str(text).map_err(|e| ProfileError::Yaml(kplug::yaml::message(&e)))?;
    let serde_json::Value::Object(mut fields) = doc else {
        return Err(ProfileError::NotAMapping);
    };
    let base = match fields.remove("base") {
        None => "blog".to_string(),
        Some(serde_json::Value::String(name)) => name,
        Some(other) => return Err(ProfileError::UnknownBase(other.to_string())),
    };
    let base = StepModel::named(&base).ok_or(ProfileError::UnknownBase(base))?;
    let serde_json::Value::Object(mut merged) =
        serde_json::to_value(base).expect("a StepModel serialises")
    else {
        unreachable!("a StepModel is a struct")
    };
    // One field at a time, so that an error names the field it is about.
    for (field, value) in fields {
        let mut with = merged.clone();
        with.insert(field.clone(), value);
        if let Err(source) = serde_json::from_value::<StepModel>(with.clone().into()) {
            return Err(ProfileError::Field { field, source });
        }
        merged = with;
    }
    let model: StepModel = serde_json::from_value(merged.into()).expect("each field checked");
    check(&model)?;
    Ok(model)
}

/// The constants a run divides by or cannot run without.
fn check(m: &StepModel) -> Result<(), ProfileError> {
    let positive = [
        ("maxNumSeqs", m.max_num_seqs as f64),
        ("maxBatchTokens", m.max_batch_tokens as f64),
        ("kvCapacityTokens", m.kv_capacity_tokens as f64),
        ("recomputeThreshold", m.recompute_threshold),
    ];
    for (field, value) in positive {
        if value.is_nan() || value <= 0.0 {
            return Err(ProfileError::NotPositive { field });
        }
    }
    // A step must take time, or the event loop never advances.
    if m.decode_base <= 0.0 && m.prefill_min <= 0.0 {
        return Err(ProfileError::NotPositive {
            field: "decodeBase",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changes_a_base_profile() {
        let m = read("base: gie-sim\nkvCapacityTokens: 1000\nmaxLoras: 2\n").unwrap();
        assert_eq!(
            m,
            StepModel {
                kv_capacity_tokens: 1000,
                max_loras: 2,
                ..StepModel::default()
            }
        );
        assert_eq!(read("{}").unwrap(), StepModel::blog());
        assert_eq!(
            read(r#"{"decodeBase": 0.01}"#).unwrap().decode_base,
            0.01,
            "JSON is YAML"
        );
    }

    #[test]
    fn bad_profiles_say_what_is_wrong() {
        for (text, says) in [
            ("base: a100\n", "a100"),
            ("kvCapacity: 5\n", "kvCapacity"),
            ("maxNumSeqs: 0\n", "maxNumSeqs"),
            ("decodeBase: fast\n", "decodeBase"),
            ("- 1\n", "mapping"),
            ("a: [\n", "bracket"),
        ] {
            let e = read(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
