//! What the endpoint picker reads of one model server, as the reference
//! EPP keeps it (GIE v1.5.0, the endpoint `Metrics` of its data layer):
//! queue and running sizes, KV-cache use, and the LoRA adapters loaded and
//! waiting. Where the numbers come from (each engine names them its own
//! way) is the scraper's business, not the picker's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Requests waiting to be scheduled by the model server.
    pub waiting_queue_size: u64,
    /// Requests being served.
    pub running_requests_size: u64,
    /// KV cache in use, as a fraction from 0 to 1 (the EPP's field says
    /// "percent", its value is a fraction).
    pub kv_cache_usage_percent: f64,
    /// LoRA adapters loaded in GPU memory.
    #[serde(default)]
    pub active_models: Vec<String>,
    /// LoRA adapters waiting to be loaded.
    #[serde(default)]
    pub waiting_models: Vec<String>,
    /// Adapter slots (`max_lora`).
    #[serde(default)]
    pub max_active_models: u64,
    /// Tokens per KV-cache block (`cache_config_info`'s `block_size`); 0
    /// unknown. The prefix cache sizes its blocks by it (autoTune).
    #[serde(default)]
    pub cache_block_size: u64,
    /// KV-cache blocks (`num_gpu_blocks`); 0 unknown.
    #[serde(default)]
    pub cache_num_blocks: u64,
}
