//! One vLLM-like model server as a step model (spec §6.3(a), the GIE
//! simulator `tools/simulations/llm_ig_simulation` up to v1.5.0): a
//! scheduler that runs a prefill step when the head of the recompute or
//! prefill queue fits, else a decode step over every running sequence;
//! step times linear in batch tokens, tokens in the KV cache and batch size;
//! preemption of the newest sequence to a recompute queue when the KV cache
//! passes its threshold. Pure arithmetic: the event loop drives it.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

/// The step model's constants. The defaults are the GIE simulator's, for
/// Llama-2-7B on an H100-80GB-like GPU. A profile file (`--profile FILE`,
/// YAML or JSON) names a built-in `base` and overrides any of these fields
/// by their camelCase names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepModel {
    /// `MAX_NUM_SEQ`: sequences running at once.
    pub max_num_seqs: usize,
    /// `MAX_NUM_BATCH_TOKENS`: tokens in one prefill batch.
    pub max_batch_tokens: u64,
    /// `MAX_GPU_MEMORY_PERC_BEFORE_RECOMPUTE`: the KV share that admission
    /// stays under and decoding preempts above.
    pub recompute_threshold: f64,
    /// KV-cache capacity in tokens (`TOTAL_NUM_GPU_BLOCKS` 2810 × 16 − 512).
    pub kv_capacity_tokens: u64,
    /// Prefill time = max(`prefill_min`, `prefill_base` + `prefill_per_token` × batch tokens).
    pub prefill_min: f64,
    pub prefill_base: f64,
    pub prefill_per_token: f64,
    /// Decode step time = `decode_base` + `decode_per_kv_token` × tokens in
    /// KV + `decode_per_sequence` × batch size.
    pub decode_base: f64,
    pub decode_per_kv_token: f64,
    pub decode_per_sequence: f64,
    /// Prefills ride in decode steps within `max_batch_tokens` (vLLM V1),
    /// each prompt token costing `prefill_per_token`; otherwise a step is
    /// either a prefill or a decode (the old simulator).
    pub mixed: bool,
    /// LoRA adapters loaded at once (vLLM's `max_loras`).
    pub max_loras: usize,
    /// KV-cache tokens a loaded adapter takes (the GIE simulator's 1,600).
    pub lora_tokens: u64,
}

impl Default for StepModel {
    fn default() -> Self {
        StepModel {
            max_num_seqs: 256,
            max_batch_tokens: 512,
            recompute_threshold: 0.9,
            kv_capacity_tokens: 2810 * 16 - 512,
            prefill_min: 0.04,
            prefill_base: 0.01969,
            prefill_per_token: 6.769e-5,
            decode_base: 0.014,
            decode_per_kv_token: 5.353e-7,
            decode_per_sequence: 1.026e-4,
            mixed: false,
            max_loras: 4,
            lora_tokens: 1600,
        }
    }
}

impl StepModel {
    /// The profile of the published benchmark's setup: Llama-2-7B in FP16
    /// on an H100-80GB (SXM) under vLLM V1, derived from the hardware:
    /// - KV cache: 2 × 32 layers × 4,096 × 2 bytes = 0.5 MiB a token; of
    ///   80 GB at vLLM's 0.9 memory share, minus 13.5 GB of weights and
    ///   about 4 GB of activations, some 54 GB hold 110,000 tokens;
    /// - decode is memory-bound: every step reads the weights (13.5 GB at
    ///   about 3.35 TB/s: 4 ms) and every token's KV (0.156 µs each), plus
    ///   about 20 µs of sampling and scheduling per sequence;
    /// - prefill is compute-bound: 2 × 7 × 10⁹ FLOPs a token at about 600
    ///   TFLOP/s effective (23 µs), plus 5 ms a batch;
    /// - 256 sequences and 8,192 batched tokens, vLLM V1's limits; prompts
    ///   prefill within decode steps, as V1 schedules them.
    ///
    /// With ShareGPT-like lengths 10 such servers saturate near 400 QPS.
    pub fn h100_llama2_7b() -> StepModel {
        StepModel {
            max_num_seqs: 256,
            max_batch_tokens: 8192,
            recompute_threshold: 0.9,
            kv_capacity_tokens: 110_000,
            prefill_min: 0.0,
            prefill_base: 0.005,
            prefill_per_token: 2.3e-5,
            decode_base: 0.004,
            decode_per_kv_token: 1.56e-7,
            decode_per_sequence: 2.0e-5,
            mixed: true,
            max_loras: 4,
            lora_tokens: 1600,
        }
    }

    /// The published benchmark's profile, fitted: [`Self::h100_llama2_7b`]
    /// with every step time × 0.58, so that 10 servers saturate near 470
    /// QPS as the blog's figure has it. The hardware-derived profile
    /// saturates near 270, in line with the docs' six-server chart (about
    /// 165 QPS); nothing in an H100's numbers explains the other 1.7×, so
    /// this is a calibration, not a derivation.
    pub fn blog() -> StepModel {
        StepModel::h100_llama2_7b().scaled(0.58)
    }

    /// Every step time multiplied by `factor`: the same server on a GPU
    /// `1 / factor` times as fast.
    pub fn scaled(self, factor: f64) -> StepModel {
        StepModel {
            prefill_min: self.prefill_min * factor,
            prefill_base: self.prefill_base * factor,
            prefill_per_token: self.prefill_per_token * factor,
            decode_base: self.decode_base * factor,
            decode_per_kv_token: self.decode_per_kv_token * factor,
            decode_per_sequence: self.decode_per_sequence * factor,
            ..self
        }
    }

    /// The built-in profiles' names.
    pub const NAMES: [&str; 3] = ["blog", "h100-llama2-7b", "gie-sim"];

    /// A built-in profile by name: `blog` (the default), `h100-llama2-7b`
    /// or `gie-sim` (the old GIE simulator's constants, [`StepModel::default`]).
    pub fn named(name: &str) -> Option<StepModel> {
        match name {
            "blog" => Some(StepModel::blog()),
            "h100-llama2-7b" => Some(StepModel::h100_llama2_7b()),
            "gie-sim" => Some(StepModel::default()),
            _ => None,
        }
    }

    pub fn prefill_time(&self, batch_tokens: u64) -> f64 {
        self.prefill_min
            .max(self.prefill_base + self.prefill_per_token * batch_tokens as f64)
    }

    pub fn decode_time(&self, tokens_in_kv: u64, batch_size: usize) -> f64 {
        self.decode_base
            + self.decode_per_kv_token * tokens_in_kv as f64
            + self.decode_per_sequence * batch_size as f64
    }
}

/// A request as a server sees it. Times are seconds of simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub arrival: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Output tokens produced so far (kept across a preemption).
    pub generated: u64,
    pub first_token: Option<f64>,
    pub preempted: u32,
    /// The LoRA adapter it runs with, if any.
    pub adapter: Option<Arc<str>>,
}

impl Job {
    pub fn new(id: u64, arrival: f64, input_tokens: u64, output_tokens: u64) -> Job {
        Job {
            id,
            arrival,
            input_tokens,
            output_tokens: output_tokens.max(1),
            generated: 0,
            first_token: None,
            preempted: 0,
            adapter: None,
        }
    }

    /// The same request for a LoRA adapter.
    pub fn for_adapter(self, adapter: Option<Arc<str>>) -> Job {
        Job { adapter, ..self }
    }

    /// Tokens a prefill of it processes: the input, plus what it had
    /// generated before a preemption (recomputed).
    fn prefill_tokens(&self) -> u64 {
        self.input_tokens + self.generated
    }

    /// Tokens it holds in the KV cache while decoding.
    fn kv_tokens(&self) -> u64 {
        self.input_tokens + self.generated
    }
}

/// A finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub job: Job,
    pub finished: f64,
}

impl Done {
    pub fn ttft(&self) -> f64 {
        self.job.first_token.unwrap_or(self.finished) - self.job.arrival
    }
    pub fn e2e(&self) -> f64 {
        self.finished - self.job.arrival
    }
    /// Normalised time per output token: e2e ÷ output tokens.
    pub fn ntpot(&self) -> f64 {
        self.e2e() / self.job.output_tokens as f64
    }
    /// Time per output token after the first.
    pub fn tpot(&self) -> f64 {
        match self.job.output_tokens {
            0 | 1 => 0.0,
            n => (self.finished - self.job.first_token.unwrap_or(self.finished)) / (n - 1) as f64,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub duration: f64,
    pub prefill: bool,
    pub finished: Vec<Done>,
}

/// One server's queues and KV cache.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub model: StepModel,
    waiting: VecDeque<Job>,
    recompute: VecDeque<Job>,
    running: Vec<Job>,
    tokens_in_kv: u64,
    /// Adapters on the GPU, least recently used first.
    loaded: Vec<Arc<str>>,
    pub preemptions: u64,
}

/// Where a job's adapter stands for admission.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// No adapter, or it is loaded.
    Ready,
    /// A free slot takes it.
    Load,
    /// It replaces the loaded adapter at this index, which nothing runs with.
    Evict(usize),
    /// Every slot's adapter is in use: the job waits.
    Busy,
}

impl Server {
    pub fn new(model: StepModel) -> Server {
        Server {
            model,
            ..Default::default()
        }
    }

    pub fn enqueue(&mut self, job: Job) {
        self.waiting.push_back(job);
    }

    /// Requests it holds: queued or running.
    pub fn in_system(&self) -> usize {
        self.waiting.len() + self.recompute.len() + self.running.len()
    }

    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.recompute.is_empty() && self.running.is_empty()
    }

    /// What the EPP would scrape: waiting = both queues, running = the
    /// decode set, KV use = tokens in the cache ÷ capacity, the adapters
    /// loaded and those queued requests wait for.
    pub fn metrics(&self) -> Metrics {
        let mut waiting_models: Vec<String> = Vec::new();
        for a in self
            .waiting
            .iter()
            .chain(&self.recompute)
            .filter_map(|j| j.adapter.as_deref())
        {
            if !self.loaded.iter().any(|l| &**l == a) && !waiting_models.iter().any(|w| w == a) {
                waiting_models.push(a.to_string());
            }
        }
        Metrics {
            waiting_queue_size: (self.waiting.len() + self.recompute.len()) as u64,
            running_requests_size: self.running.len() as u64,
            kv_cache_usage_percent: self.tokens_in_kv as f64 / self.capacity(0) as f64,
            active_models: self.loaded.iter().map(|a| a.to_string()).collect(),
            waiting_models,
            max_active_models: self.model.max_loras as u64,
            ..Default::default()
        }
    }

    /// KV tokens left for sequences with `extra` more adapters loaded:
    /// each loaded adapter takes its share of the cache.
    fn capacity(&self, extra: usize) -> u64 {
        let adapters = (self.loaded.len() + extra) as u64 * self.model.lora_tokens;
        self.model
            .kv_capacity_tokens
            .saturating_sub(adapters)
            .max(1)
    }

    /// Whether `job`'s adapter can be on the GPU beside the running
    /// sequences and those `admitted` this step.
    fn slot(&self, job: &Job, admitted: &[Job]) -> Slot {
        let Some(adapter) = job.adapter.as_deref() else {
            return Slot::Ready;
        };
        if self.loaded.iter().any(|l| &**l == adapter) {
            return Slot::Ready;
        }
        if self.loaded.len() < self.model.max_loras {
            return Slot::Load;
        }
        let in_use = |l: &str| {
            self.running
                .iter()
                .chain(admitted)
                .any(|j| j.adapter.as_deref() == Some(l))
        };
        match self.loaded.iter().position(|l| !in_use(l)) {
            Some(i) => Slot::Evict(i),
            None => Slot::Busy,
        }
    }

    fn fits(
        &self,
        running: usize,
        kv: u64,
        batch: u64,
        budget: u64,
        job: &Job,
        slot: Slot,
    ) -> bool {
        let m = &self.model;
        let tokens = job.prefill_tokens();
        let capacity = self.capacity(usize::from(slot == Slot::Load));
        // An input larger than a batch is taken alone.
        slot != Slot::Busy
            && (batch == 0 || batch + tokens <= budget)
            && running < m.max_num_seqs
            && ((kv + tokens) as f64) / (capacity as f64) < m.recompute_threshold
    }

    /// The next job to admit: from the recompute queue first, then new
    /// requests.
    fn head(&self) -> Option<&Job> {
        self.recompute.front().or_else(|| self.waiting.front())
    }

    fn pop_head(&mut self) -> Option<Job> {
        self.recompute
            .pop_front()
            .or_else(|| self.waiting.pop_front())
    }

    /// Puts `adapter` on the GPU as `slot` says, most recently used last.
    fn load(&mut self, adapter: &Arc<str>, slot: Slot) {
        match slot {
            Slot::Evict(i) => {
                self.loaded.remove(i);
                self.loaded.push(adapter.clone());
            }
            Slot::Load => self.loaded.push(adapter.clone()),
            Slot::Ready => {
                if let Some(i) = self.loaded.iter().position(|l| l == adapter) {
                    let l = self.loaded.remove(i);
                    self.loaded.push(l);
                }
            }
            Slot::Busy => unreachable!("a busy slot does not fit"),
        }
    }

    /// Take from the recompute queue first, then new requests, as many as
    /// fit in `budget` tokens: the jobs and their prefill tokens.
    fn admit(&mut self, budget: u64) -> (Vec<Job>, u64) {
        let (mut batch, mut kv, mut admitted) = (0u64, self.tokens_in_kv, Vec::new());
        while let Some(head) = self.head() {
            let slot = self.slot(head, &admitted);
            if !self.fits(
                self.running.len() + admitted.len(),
                kv,
                batch,
                budget,
                head,
                slot,
            ) {
                break;
            }
            let job = self.pop_head().expect("the head exists");
            if let Some(adapter) = &job.adapter {
                self.load(adapter, slot);
            }
            batch += job.prefill_tokens();
            kv += job.prefill_tokens();
            admitted.push(job);
        }
        (admitted, batch)
    }

    /// Move the newest running sequences to the recompute queue while the
    /// cache would pass the threshold with one more token each.
    fn preempt(&mut self) {
        let m = self.model;
        while self.running.len() > 1
            && ((self.running.len() as u64 + self.tokens_in_kv) as f64) / (self.capacity(0) as f64)
                > m.recompute_threshold
        {
            let mut job = self.running.pop().expect("more than one running");
            self.tokens_in_kv -= job.kv_tokens();
            job.preempted += 1;
            self.preemptions += 1;
            self.recompute.push_back(job);
        }
    }

    /// The step's end for `admitted` (prefilled: their next token) and,
    /// with `decode`, for every running sequence (one token each).
    fn finish(&mut self, end: f64, admitted: Vec<Job>, decode: bool) -> Vec<Done> {
        let mut finished = Vec::new();
        if decode {
            let mut still = Vec::with_capacity(self.running.len());
            for mut job in self.running.drain(..) {
                job.generated += 1;
                self.tokens_in_kv += 1;
                if job.generated >= job.output_tokens {
                    self.tokens_in_kv -= job.kv_tokens();
                    finished.push(Done { job, finished: end });
                } else {
                    still.push(job);
                }
            }
            self.running = still;
        }
        for mut job in admitted {
            // The prefill produces the next token (the first, unless recomputed).
            job.generated += 1;
            job.first_token.get_or_insert(end);
            if job.generated >= job.output_tokens {
                finished.push(Done { job, finished: end });
            } else {
                self.tokens_in_kv += job.kv_tokens();
                self.running.push(job);
            }
        }
        finished
    }

    /// One scheduler step at `now`; `None` when there is nothing to do.
    pub fn step(&mut self, now: f64) -> Option<Step> {
        let m = self.model;
        if m.mixed {
            // vLLM V1: the running sequences decode and new prompts prefill
            // in the same step, within one token budget.
            self.preempt();
            let budget = m.max_batch_tokens.saturating_sub(self.running.len() as u64);
            let (admitted, batch) = self.admit(budget);
            if admitted.is_empty() && self.running.is_empty() {
                return None;
            }
            let duration = m.decode_time(self.tokens_in_kv, self.running.len())
                + m.prefill_per_token * batch as f64;
            let finished = self.finish(now + duration, admitted, true);
            return Some(Step {
                duration,
                prefill: batch > 0,
                finished,
            });
        }
        // The old simulator: a prefill step whenever the head fits, else a
        // decode step.
        let (admitted, batch) = self.admit(m.max_batch_tokens);
        if !admitted.is_empty() {
            let duration = m.prefill_time(batch);
            let finished = self.finish(now + duration, admitted, false);
            return Some(Step {
                duration,
                prefill: true,
                finished,
            });
        }
        if self.running.is_empty() {
            return None;
        }
        self.preempt();
        let duration = m.decode_time(self.tokens_in_kv, self.running.len());
        let finished = self.finish(now + duration, Vec::new(), true);
        Some(Step {
            duration,
            prefill: false,
            finished,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_alone(server: &mut Server) -> Vec<Done> {
        let (mut now, mut done) = (0.0, Vec::new());
        while let Some(step) = server.step(now) {
            now += step.duration;
            done.extend(step.finished);
        }
        done
    }

    #[test]
    fn one_request_alone_takes_the_formula() {
        let m = StepModel::default();
        let mut s = Server::new(m);
        s.enqueue(Job::new(1, 0.0, 100, 4));
        let done = run_alone(&mut s);
        // Prefill of 100 tokens: max(0.04, 0.01969 + 6.769e-5 × 100 = 0.026459) = 0.04.
        let ttft = 0.04;
        // Three decode steps, one sequence, with 101, 102, 103 tokens in KV.
        let decode: f64 = [101.0, 102.0, 103.0]
            .iter()
            .map(|kv| 0.014 + 5.353e-7 * kv + 1.026e-4)
            .sum();
        assert_eq!(done.len(), 1);
        assert!((done[0].ttft() - ttft).abs() < 1e-12, "{}", done[0].ttft());
        assert!(
            (done[0].e2e() - (ttft + decode)).abs() < 1e-12,
            "{}",
            done[0].e2e()
        );
        assert!((done[0].tpot() - decode / 3.0).abs() < 1e-12);
        assert!(
            s.is_idle() && s.metrics().kv_cache_usage_percent == 0.0,
            "the cache is freed"
        );
    }

    #[test]
    fn mixed_steps_decode_and_prefill_together() {
        let m = StepModel::h100_llama2_7b();
        let mut s = Server::new(m);
        s.enqueue(Job::new(1, 0.0, 100, 3));
        // Step 1: only the prefill of 100 tokens rides.
        let first = s.step(0.0).unwrap();
        assert!((first.duration - (m.decode_base + m.prefill_per_token * 100.0)).abs() < 1e-12);
        s.enqueue(Job::new(2, first.duration, 50, 2));
        // Step 2: job 1 decodes (101 tokens in KV) while job 2 prefills 50.
        let second = s.step(first.duration).unwrap();
        let want = m.decode_base
            + m.decode_per_kv_token * 101.0
            + m.decode_per_sequence
            + m.prefill_per_token * 50.0;
        assert!(
            (second.duration - want).abs() < 1e-12,
            "{}",
            second.duration
        );
        assert!(second.prefill);
        assert_eq!(s.metrics().running_requests_size, 2);
    }

    #[test]
    fn a_batch_holds_at_most_its_tokens_and_a_long_prefill_costs_more() {
        let m = StepModel::default();
        assert!((m.prefill_time(512) - (0.01969 + 6.769e-5 * 512.0)).abs() < 1e-12);
        let mut s = Server::new(m);
        for id in 0..3 {
            s.enqueue(Job::new(id, 0.0, 200, 10));
        }
        let step = s.step(0.0).unwrap();
        assert!(step.prefill);
        // 200 + 200 fit in 512; the third waits.
        assert_eq!(
            (
                s.metrics().running_requests_size,
                s.metrics().waiting_queue_size
            ),
            (2, 1)
        );
    }

    #[test]
    fn the_newest_sequence_is_preempted_at_the_threshold_and_recomputed_first() {
        // Room for 1,000 tokens, 90 % of it usable.
        let m = StepModel {
            kv_capacity_tokens: 1000,
            ..StepModel::default()
        };
        let mut s = Server::new(m);
        s.enqueue(Job::new(1, 0.0, 440, 100));
        s.enqueue(Job::new(2, 0.0, 440, 100));
        // 880 + 2 tokens after the prefill: (2 + 882) / 1000 < 0.9, both decode.
        let mut now = 0.0;
        let step = s.step(now).unwrap();
        // Two prefills of 440 do not fit one batch (880 > 512): one at a time.
        now += step.duration;
        now += s.step(now).unwrap().duration;
        assert_eq!(s.metrics().running_requests_size, 2);
        // Decoding grows the cache until (2 + tokens) / 1000 > 0.9: then job 2 goes.
        while s.preemptions == 0 {
            now += s.step(now).unwrap().duration;
        }
        let m = s.metrics();
        assert_eq!((m.running_requests_size, m.waiting_queue_size), (1, 1));
        let done = run_alone(&mut s);
        assert_eq!(done.len(), 2);
        let second = done.iter().find(|d| d.job.id == 2).unwrap();
        assert_eq!(second.job.preempted, 1);
        assert_eq!(second.job.generated, 100, "recomputed, then finished");
    }

    #[test]
    fn adapters_take_cache_and_wait_for_a_free_slot() {
        let m = StepModel {
            max_loras: 1,
            lora_tokens: 400,
            kv_capacity_tokens: 1000,
            ..StepModel::default()
        };
        let mut s = Server::new(m);
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        s.enqueue(Job::new(1, 0.0, 100, 50).for_adapter(Some(a.clone())));
        s.enqueue(Job::new(2, 0.0, 100, 5).for_adapter(Some(b.clone())));
        let mut now = s.step(0.0).unwrap().duration;
        // One slot, held by a's running sequence: b waits for it.
        let seen = s.metrics();
        assert_eq!(seen.active_models, ["a"]);
        assert_eq!(seen.waiting_models, ["b"]);
        assert_eq!(
            (seen.running_requests_size, seen.waiting_queue_size),
            (1, 1)
        );
        // The adapter's 400 tokens come off the cache: 101 of 600.
        assert!((seen.kv_cache_usage_percent - 101.0 / 600.0).abs() < 1e-12);
        let mut order = Vec::new();
        while let Some(step) = s.step(now) {
            now += step.duration;
            order.extend(step.finished.iter().map(|d| d.job.id));
        }
        assert_eq!(order, [1, 2], "b ran only once a finished");
        assert_eq!(s.metrics().active_models, ["b"], "a was evicted for b");
    }
}
