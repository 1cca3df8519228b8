//! `luotsi train` and `luotsi eval`: build the classifier's trained signal from the labelled
//! lines, check that the committed model is what the data gives, and evaluate any labelled
//! file (run once on a blind set, never tuned against).

use std::path::PathBuf;

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Directory of the labelled data: `classify_tune.jsonl`, `classify_heldout.jsonl`,
    /// `voices/*.jsonl`.
    #[arg(long, default_value = "tests/data")]
    pub data: PathBuf,
    /// Retrain in memory and fail if the result differs from the committed files.
    #[arg(long)]
    pub check: bool,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A labelled JSON-lines file (`#` lines are comments).
    pub file: PathBuf,
}

pub fn train(config: &Config, args: &TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    use luotsi::classify::{dataset, train};
    let files = dataset::training_files(&args.data)?;
    let data = dataset::load(&files)?;
    let root = args
        .data
        .parent()
        .and_then(|p| p.parent())
        .unwrap_or(&args.data);
    let started = std::time::Instant::now();
    let trained = train::train(&data, root);
    let dir = &config.classifier_dir;
    eprintln!(
        "luotsi train: {} lines from {} files, {} buckets kept, {} bytes, {:.1} s",
        data.items.len(),
        files.len(),
        trained.signal.rows(),
        trained.weights.len(),
        started.elapsed().as_secs_f64()
    );
    if args.check {
        return match train::check(&trained, dir) {
            None => {
                eprintln!("luotsi train --check: {} matches the training data", dir.display());
                Ok(())
            }
            Some(diff) => Err(format!(
                "train --check: {diff} in {}: the committed model is not what the data and code give; run `luotsi train` and commit",
                dir.display()
            )
            .into()),
        };
    }
    train::write(&trained, dir)?;
    eprintln!(
        "luotsi train: wrote model.bin and model.toml in {}",
        dir.display()
    );
    Ok(())
}

pub fn eval(config: &Config, args: &EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    use luotsi::classify::{Classifier, ModelMode, dataset, eval};
    let classifier = Classifier::load_with(&config.classifier_dir, ModelMode::RaiseOnly)?;
    let items = dataset::load_file(&args.file)?;
    let report = eval::evaluate(&classifier, &items);
    print!(
        "{}",
        eval::render(&args.file.display().to_string(), &report)
    );
    Ok(())
}
