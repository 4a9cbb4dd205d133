//! The approximate prefix cache of the reference EPP (GIE v1.5.0
//! `requestcontrol/dataproducer/approximateprefix`): a request's user input
//! cut into blocks and hashed as a chain (`hashing.go`, hashPrompt), an LRU
//! of block hashes per endpoint filled with the EPP's own past picks
//! (`indexer.go`), and the longest prefix each endpoint holds
//! (`plugin.go`, matchLongestPrefix). The EPP's index lives in its memory;
//! a replay fills its own from a history of (endpoint, request) pairs.

use std::collections::{BTreeMap, HashMap, VecDeque};

use xxhash_rust::xxh64::Xxh64;

/// `averageCharactersPerToken`: block sizes are in tokens, blocks in bytes.
pub const CHARS_PER_TOKEN: usize = 4;
/// `defaultBlockSizeTokens` (without a pod's `cache_config_info`).
pub const DEFAULT_BLOCK_TOKENS: usize = 16;
/// `defaultMaxPrefixBlocks`.
pub const DEFAULT_MAX_BLOCKS: usize = 256;
/// `defaultLRUCapacityPerServer`: blocks remembered per endpoint.
pub const DEFAULT_LRU_CAPACITY: usize = 31_250;

/// The prefix-cache plugins' parameters (`config` in types.go; the
/// scorer's, handed by the loader to the producer it creates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixConfig {
    /// Block size and LRU capacity from each endpoint's cache info, when
    /// it has one.
    pub auto_tune: bool,
    pub block_size_tokens: usize,
    pub max_prefix_blocks: usize,
    /// When above 0: at most this many tokens, in blocks.
    pub max_prefix_tokens: usize,
    pub lru_capacity: usize,
}

impl Default for PrefixConfig {
    fn default() -> Self {
        PrefixConfig {
            auto_tune: true,
            block_size_tokens: DEFAULT_BLOCK_TOKENS,
            max_prefix_blocks: DEFAULT_MAX_BLOCKS,
            max_prefix_tokens: 0,
            lru_capacity: DEFAULT_LRU_CAPACITY,
        }
    }
}

impl PrefixConfig {
    /// The block size in tokens, given the first endpoint's cache block
    /// size (0 unknown): `GetBlockSize`.
    pub fn block_tokens(&self, first_endpoint: u64) -> usize {
        if self.auto_tune && first_endpoint > 0 {
            first_endpoint as usize
        } else {
            self.block_size_tokens
        }
    }

    /// How many blocks count (`PrepareRequestData`).
    pub fn max_blocks(&self, block_tokens: usize) -> usize {
        if self.max_prefix_tokens > 0 && block_tokens > 0 {
            self.max_prefix_tokens / block_tokens
        } else {
            self.max_prefix_blocks
        }
    }

    /// An endpoint's LRU capacity, given its KV-cache block count (0
    /// unknown): `makeserver`.
    pub fn capacity(&self, num_blocks: u64) -> usize {
        if self.auto_tune && num_blocks > 0 {
            num_blocks as usize
        } else {
            self.lru_capacity
        }
    }
}

/// A chat message as the EPP parses and re-marshals it (`Message`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// What a request says, for hashing.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// `/v1/chat/completions`: its messages.
    Chat(Vec<Message>),
    /// `/v1/completions`: its prompt text.
    Completion(String),
}

impl Prompt {
    /// A request body (JSON) as the EPP reads it: `messages` (string
    /// contents) or `prompt` (a string or strings joined by spaces).
    pub fn from_body(body: &serde_json::Value) -> Option<Prompt> {
        if let Some(messages) = body["messages"].as_array() {
            let messages = messages
                .iter()
                .map(|m| Message {
                    role: m["role"].as_str().unwrap_or_default().to_string(),
                    content: m["content"].as_str().unwrap_or_default().to_string(),
                })
                .collect();
            return Some(Prompt::Chat(messages));
        }
        match &body["prompt"] {
            serde_json::Value::String(s) => Some(Prompt::Completion(s.clone())),
            serde_json::Value::Array(parts) => Some(Prompt::Completion(
                parts
                    .iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            _ => None,
        }
    }

    /// One user message of `text`.
    pub fn user(text: &str) -> Prompt {
        Prompt::Chat(vec![Message {
            role: "user".into(),
            content: text.into(),
        }])
    }

    /// The bytes the EPP hashes (`getUserInputBytes`): the completion's
    /// text, or the messages as Go's encoding/json marshals them.
    pub fn user_input(&self) -> Vec<u8> {
        match self {
            Prompt::Completion(text) => text.as_bytes().to_vec(),
            Prompt::Chat(messages) => {
                let mut out = String::from("[");
                for (i, m) in messages.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('{');
                    // `role` is omitempty; `content` always present.
                    if !m.role.is_empty() {
                        out.push_str("\"role\":");
                        go_json_string(&m.role, &mut out);
                        out.push(',');
                    }
                    out.push_str("\"content\":");
                    go_json_string(&m.content, &mut out);
                    out.push('}');
                }
                out.push(']');
                out.into_bytes()
            }
        }
    }
}

/// A string as Go's encoding/json writes it: HTML-safe (`<`, `>`, `&` as
/// \u escapes), U+2028/U+2029 escaped, `\b` `\f` `\n` `\r` `\t` short.
fn go_json_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The hash chain of `input` for `model` (and `cache_salt`): one hash per
/// whole block of `block_tokens × 4` bytes, at most `max_blocks`; a
/// trailing partial block is dropped (`hashPrompt`).
pub fn hash_chain(
    model: &str,
    cache_salt: &str,
    input: &[u8],
    block_tokens: usize,
    max_blocks: usize,
) -> Vec<u64> {
    let block = block_tokens * CHARS_PER_TOKEN;
    if block == 0 || input.len() < block {
        return Vec::new();
    }
    let input = &input[..input.len().min(block * max_blocks)];
    let mut h = Xxh64::new(0);
    h.update(model.as_bytes());
    h.update(cache_salt.as_bytes());
    let mut previous = h.digest();
    input
        .chunks_exact(block)
        .map(|chunk| {
            let mut h = Xxh64::new(0);
            h.update(chunk);
            h.update(&previous.to_le_bytes());
            previous = h.digest();
            previous
        })
        .collect()
}

/// Per endpoint, the block hashes it was sent last, least recent evicted
/// first (`indexer.go`: one LRU per server and a reverse map).
#[derive(Debug, Clone, Default)]
pub struct PrefixIndex {
    /// Each endpoint's LRU (most recent at the back) and its capacity.
    lru: BTreeMap<String, (VecDeque<u64>, usize)>,
    holders: HashMap<u64, Vec<String>>,
}

impl PrefixIndex {
    pub fn new() -> PrefixIndex {
        PrefixIndex::default()
    }

    /// Record that `endpoint` was sent a request of `hashes` (`Add`). Its
    /// LRU is made with `capacity` the first time. As the reference does,
    /// every hash goes into the LRU first (evicting as it must), and only
    /// then into the reverse map, so that a request longer than the LRU
    /// leaves all its hashes listed under the endpoint.
    pub fn add(&mut self, endpoint: &str, hashes: &[u64], capacity: usize) {
        let (lru, cap) = self
            .lru
            .entry(endpoint.to_string())
            .or_insert_with(|| (VecDeque::new(), capacity.max(1)));
        for h in hashes {
            if let Some(at) = lru.iter().position(|x| x == h) {
                lru.remove(at);
            }
            lru.push_back(*h);
            if lru.len() > *cap
                && let Some(old) = lru.pop_front()
                && let Some(holders) = self.holders.get_mut(&old)
            {
                holders.retain(|e| e != endpoint);
            }
        }
        for h in hashes {
            let holders = self.holders.entry(*h).or_default();
            if !holders.iter().any(|e| e == endpoint) {
                holders.push(endpoint.to_string());
            }
        }
    }

    /// Per endpoint, how many blocks of `hashes` it holds in a row from the
    /// first, walking until a block no endpoint holds
    /// (`matchLongestPrefix`).
    pub fn longest_prefix(&self, hashes: &[u64]) -> BTreeMap<String, usize> {
        let mut matched = BTreeMap::new();
        for h in hashes {
            let holders = self.holders.get(h).map(Vec::as_slice).unwrap_or_default();
            if holders.is_empty() {
                break;
            }
            for e in holders {
                *matched.entry(e.clone()).or_insert(0) += 1;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors computed with Go's encoding/json and cespare/xxhash/v2
    /// (the EPP's own libraries).
    #[test]
    fn the_chain_and_the_marshalling_match_go() {
        let prompt = Prompt::Chat(vec![
            Message {
                role: "system".into(),
                content: "You are <terse> & \"exact\"\n\ttabs\u{2028} \u{8}\u{c} é".into(),
            },
            Message {
                role: "user".into(),
                content: "Summarise the Gateway API Inference Extension's endpoint picker in three sentences, please.".into(),
            },
        ]);
        let input = prompt.user_input();
        assert_eq!(
            String::from_utf8(input.clone()).unwrap(),
            r#"[{"role":"system","content":"You are \u003cterse\u003e \u0026 \"exact\"\n\ttabs\u2028 \b\f é"},{"role":"user","content":"Summarise the Gateway API Inference Extension's endpoint picker in three sentences, please."}]"#
        );
        assert_eq!(input.len(), 216);
        assert_eq!(
            hash_chain("chat", "", &input, 16, 256),
            [
                16299690934069088959,
                17704715639620935248,
                5205007362208889976
            ]
        );
        assert_eq!(
            hash_chain("", "", b"0123456789", 1, 256),
            [9763304036361037839, 16275091938994289978]
        );
    }

    #[test]
    fn short_inputs_have_no_blocks_and_long_ones_are_cut() {
        assert!(hash_chain("m", "", &[b'x'; 63], 16, 256).is_empty());
        assert_eq!(hash_chain("m", "", &[b'x'; 64 * 10], 16, 3).len(), 3);
        assert_ne!(
            hash_chain("m", "", &[b'x'; 64], 16, 1),
            hash_chain("m", "salt", &[b'x'; 64], 16, 1),
            "the salt seeds the chain"
        );
    }

    #[test]
    fn the_longest_prefix_stops_at_the_first_block_nobody_holds() {
        let mut index = PrefixIndex::new();
        index.add("a", &[1, 2, 3], 100);
        index.add("b", &[1, 2], 100);
        index.add("c", &[9, 3], 100);
        let m = index.longest_prefix(&[1, 2, 3, 4]);
        assert_eq!(
            m,
            BTreeMap::from([("a".into(), 3), ("b".into(), 2), ("c".into(), 1)])
        );
        assert!(index.longest_prefix(&[7, 1]).is_empty());
    }

    #[test]
    fn the_lru_forgets_the_least_recent_blocks() {
        let mut index = PrefixIndex::new();
        index.add("a", &[1, 2], 2);
        index.add("a", &[1], 2);
        index.add("a", &[3], 2);
        // 2 was the least recently used.
        assert_eq!(index.longest_prefix(&[1]).get("a"), Some(&1));
        assert!(index.longest_prefix(&[2]).is_empty());
        // One request longer than the LRU: evicted in the LRU, still listed.
        index.add("b", &[7, 8, 9], 2);
        assert_eq!(index.longest_prefix(&[7, 8, 9]).get("b"), Some(&3));
    }

    #[test]
    fn auto_tune_takes_the_servers_geometry() {
        let c = PrefixConfig::default();
        assert_eq!((c.block_tokens(0), c.block_tokens(32)), (16, 32));
        assert_eq!((c.capacity(0), c.capacity(2048)), (31_250, 2048));
        let fixed = PrefixConfig {
            auto_tune: false,
            block_size_tokens: 64,
            max_prefix_tokens: 1024,
            ..c
        };
        assert_eq!((fixed.block_tokens(32), fixed.capacity(2048)), (64, 31_250));
        assert_eq!(fixed.max_blocks(64), 16);
    }

    #[test]
    fn bodies_as_the_epp_reads_them() {
        let chat =
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(Prompt::from_body(&chat), Some(Prompt::user("hi")));
        let completion = serde_json::json!({"prompt": ["a", "b"]});
        assert_eq!(
            Prompt::from_body(&completion).unwrap().user_input(),
            b"a b".to_vec()
        );
        assert_eq!(Prompt::from_body(&serde_json::json!({})), None);
    }
}
