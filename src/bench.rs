//! placeholder
use luotsi::config::Config;

#[derive(clap::Args)]
pub struct BenchArgs {}

pub async fn run(_c: Config, _a: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}
