//! `kubectl compat validate-node`.

use std::io::Write;

use kplug::cli::KubectlArgs;
use kplug::output::color::Palette;
use kplug_compat::report::{human, nfd};
use kplug_compat::validate::{self, Options};

use super::image::{self, RegistryArgs, SpecSource};
use super::input::{self, FeatureSource};

/// Check a host (or exported features) against a compatibility spec
///
/// Exit status: 0 compatible, 3 not compatible, 1 when the spec or features
/// cannot be read or an expression cannot be evaluated (the full report is
/// printed first).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecSource,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub source: FeatureSource,

    /// Keep only compatibility sets with one of these tags (comma-separated or repeated), as NFD does
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub tags: Vec<String>,

    /// Print NFD's JSON (same as -o nfd-json)
    #[arg(long, conflicts_with = "output")]
    pub output_json: bool,

    /// Output format (default: the report for people)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<NodeFormat>,
}

/// What validate-node prints besides the report for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeFormat {
    /// kplug's report as JSON
    Json,
    /// kplug's report as YAML
    Yaml,
    /// NFD's own JSON, as `nfd compat validate-node --output-json` prints it
    NfdJson,
}

impl From<kplug::cli::ReportFormat> for NodeFormat {
    fn from(f: kplug::cli::ReportFormat) -> Self {
        match f {
            kplug::cli::ReportFormat::Json => NodeFormat::Json,
            kplug::cli::ReportFormat::Yaml => NodeFormat::Yaml,
        }
    }
}

/// Sets what the spec needs to nothing if the loader ends without a spec
/// (an error, a panic): the error is what the user sees, and discovery
/// waiting on it must not wait forever.
struct Settled<'a>(&'a std::sync::OnceLock<kplug_compat::sources::Needed>);

impl Drop for Settled<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(Default::default());
    }
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    // The registry round trips and host discovery are independent; overlapping
    // them makes `--image` cost about as much as discovery alone. Once the
    // spec is in, discovery skips the sources it does not match on, and the
    // kernel config unless a rule reads it. (Loading the spec on this thread
    // and discovering on the new one measured slower.)
    //
    // An image checked before has its last spec in the digest cache: what
    // that spec needs is known at once, before any round trip, and
    // discovery skips the rest from the start. Should the registry hold a
    // newer artifact that needs more, the sources it was short of run again.
    let needed = std::sync::OnceLock::new();
    let (loaded, features) = std::thread::scope(|scope| {
        let spec = scope.spawn(|| {
            // Discovery may wait for `needed`: it is set however this ends.
            let _settled = Settled(&needed);
            let spec = image::runtime()?.block_on(args.spec.load(&args.registry))?;
            let _ = needed.set(kplug_compat::sources::needed_by(&spec));
            anyhow::Ok(spec)
        });
        // The guess is made here, while the registry is asked: on the
        // loader's thread it would delay the first request. It counts only
        // if it comes before the spec.
        let guessed = args
            .source
            .file
            .is_none()
            .then(|| args.spec.guess(&args.registry))
            .flatten()
            .filter(|guessed| needed.set(guessed.clone()).is_ok());
        let features = input::load_features(&args.source, &needed, true);
        let spec = spec.join().expect("the spec loader does not panic");
        (spec.map(|spec| (spec, guessed)), features)
    });
    let (spec, guessed) = loaded?;
    let (node, features, warnings) = features?;
    let (features, warnings) = match guessed {
        Some(guessed) => input::complete(
            &args.source,
            features,
            warnings,
            &guessed,
            &kplug_compat::sources::needed_by(&spec),
        )?,
        None => (features, warnings),
    };
    if !warnings.is_empty() {
        let sources: std::collections::BTreeSet<&str> = warnings.iter().map(|w| w.source).collect();
        eprintln!(
            "warning: some host features could not be read (sources: {}); `kubectl compat features` lists them",
            sources.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let report = validate::validate(
        &spec,
        &features,
        &Options {
            tags: args.tags,
            brief: false,
        },
        node,
    );
    let mut out = std::io::stdout().lock();
    let format = if args.output_json {
        Some(NodeFormat::NfdJson)
    } else {
        args.output
    };
    match format {
        // NFD prints no trailing newline.
        Some(NodeFormat::NfdJson) => out.write_all(nfd::render(&spec, &report.nfd).as_bytes())?,
        Some(NodeFormat::Json) => kplug::output::format::write_json(&report, &mut out)?,
        Some(NodeFormat::Yaml) => out.write_all(
            kplug::output::format::to_yaml(&serde_json::to_value(&report)?)?.as_bytes(),
        )?,
        None => human::render(&report, Palette::new(kube.color), &mut out)?,
    }
    out.flush()?;
    Ok(validate::exit_code(&report))
}
