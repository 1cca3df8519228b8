//! `luotsi classify`: JSON lines from stdin classified to stdout, for the people who tune the
//! lexicon. The work is `luotsi::classify::batch`; this is only its terminal.

use luotsi::config::Config;

/// Classifying is synchronous stdin-to-stdout work: it needs no runtime.
pub fn run(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let classifier =
        luotsi::classify::Classifier::load_with(&config.classifier_dir, config.classifier.model)?;
    let stdout = std::io::stdout();
    let n = luotsi::classify::batch::classify_jsonl(
        std::io::stdin().lock(),
        stdout.lock(),
        &classifier,
    )?;
    eprintln!("luotsi classify: {n} lines");
    Ok(())
}
