//! `kubectl eventlog store info`: what the store is made of.

use std::io::Write;

use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_eventlog::store::info::StoreInfo;

use super::store::StoreArgs;

const EXAMPLES: &str = "\
Examples:
  # Tables, day partitions and sizes of the default store
  kubectl eventlog store info

  # A Citus coordinator: how the tables are sharded and what each worker holds
  kubectl eventlog store info --store postgres://kplug@coordinator/events -o yaml";

/// The store itself: its database, tables, partitions and workers
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Show how the store is laid out: database kind, schema version,
    /// tables (sharded, reference or local) with sizes, day partitions and,
    /// on Citus, each worker's shards
    #[command(after_help = EXAMPLES)]
    Info {
        #[command(flatten)]
        store: StoreArgs,

        /// Output format (default: tables)
        #[arg(short = 'o', long, value_name = "FORMAT")]
        output: Option<ReportFormat>,
    },
}

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let StoreCommand::Info { store, output } = args.command;
    let mut store = store.open(kplug_eventlog::store::Access::Read).await?;
    let info = store.info().await?;
    let mut out = std::io::stdout().lock();
    match output {
        Some(f) => kplug::output::format::write_document(f == ReportFormat::Json, &info, &mut out)?,
        None => print(kube, &info, &mut out)?,
    }
    Ok(kplug::Code::Success)
}

fn size(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_string(), kplug::output::format::bytes)
}

fn print(kube: &KubectlArgs, info: &StoreInfo, out: &mut dyn Write) -> std::io::Result<()> {
    let options = TableOptions {
        no_headers: kube.no_headers,
        ..Default::default()
    };
    writeln!(
        out,
        "Store:    {}\nKind:     {}\nSchema:   {}\nSize:     {}\n",
        info.store,
        info.kind.as_str(),
        info.schema_version,
        size(Some(info.bytes))
    )?;
    let mut t = Table::new(&["TABLE", "PLACEMENT", "SHARDED BY", "SHARDS", "SIZE"]);
    for table in &info.tables {
        t.push(vec![
            Cell::from(table.name.as_str()),
            Cell::from(format!("{:?}", table.placement).to_lowercase()),
            Cell::from(table.distribution_column.as_deref().unwrap_or("-")),
            Cell::from(table.shards.map_or("-".into(), |s| s.to_string())),
            Cell::from(size(table.bytes)),
        ]);
    }
    t.render(options, out)?;
    if !info.partitions.is_empty() {
        let (first, last) = (
            &info.partitions[0],
            &info.partitions[info.partitions.len() - 1],
        );
        let total: u64 = info.partitions.iter().map(|p| p.bytes).sum();
        writeln!(
            out,
            "\nPartitions: {} days of occurrences, {} to {} ({})",
            info.partitions.len(),
            first.day.strftime("%Y-%m-%d"),
            last.day.strftime("%Y-%m-%d"),
            size(Some(total))
        )?;
    }
    if !info.workers.is_empty() {
        writeln!(out)?;
        let mut t = Table::new(&["NODE", "SHARDS", "SIZE"]);
        for w in &info.workers {
            t.push(vec![
                Cell::from(w.node.as_str()),
                Cell::from(w.shards.to_string()),
                Cell::from(size(Some(w.bytes))),
            ]);
        }
        t.render(options, out)?;
    }
    Ok(())
}
