// SPDX-License-Identifier: GPL-2.0

//! The manual pages (section 8) and shell completions of a tool, made from its clap
//! definitions by `TOOL --generate-docs DIR`:
//!
//! | file in DIR                     | what                                         |
//! |---------------------------------|----------------------------------------------|
//! | `man8/TOOL.8`                   | the tool's page                              |
//! | `man8/TOOL-SUB.8`               | one page per subcommand (`ckpt-show.8`)      |
//! | `bash/TOOL`                     | bash-completion (named as the command)       |
//! | `zsh/_TOOL`                     | zsh                                          |
//! | `fish/TOOL.fish`                | fish                                         |
//!
//! The pages are clap_mangen's NAME, SYNOPSIS, DESCRIPTION (the long about), OPTIONS and
//! SUBCOMMANDS, then the sections of the command's long after-help (what `--help` prints
//! after the options), which is written in a small plain-text form that reads well on a
//! terminal and becomes man sections here:
//!
//! - a line `Heading:` at the left margin starts a section (`.SH HEADING`);
//! - a line indented by two spaces is an item: its term, and after two or more spaces the
//!   start of its description (`.TP`); lines indented further go on with the description;
//! - other lines are paragraphs, a blank line between two.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

/// The manual section of both tools: system administration (they need the module).
const SECTION: &str = "8";

/// Writes the pages and completions of `cmd` into `dir` (created if missing).
pub(super) fn generate(cmd: clap::Command, dir: &Path) -> Result<ExitCode> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let name = cmd.get_name().to_owned();
    // The footer of every page, a subcommand's too: "TOOL VERSION".
    let source = format!("{name} {}", cmd.get_version().unwrap_or_default());

    let man8 = dir.join("man8");
    create_dir(&man8)?;
    page(&cmd, &source, None, &man8)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        page(sub, &source, Some(&name), &man8)?;
    }

    for (shell, sub, file) in [
        (Shell::Bash, "bash", name.clone()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let path = dir.join(sub).join(file);
        create_dir(&dir.join(sub))?;
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut out);
        fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// One page: `cmd`'s own, or that of a subcommand of the tool `parent`.
fn page(cmd: &clap::Command, source: &str, parent: Option<&str>, dir: &Path) -> Result<()> {
    let man = Man::new(cmd.clone()).section(SECTION).source(source);
    let path = dir.join(man.get_filename());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    // The after-help's sections, then SEE ALSO (the tool's page) if it names none. No
    // VERSION section: the footer says it.
    let mut extra = Roff::new();
    let mut see_also = false;
    if let Some(help) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        see_also = sections(&mut extra, &help.to_string());
    }
    if let (Some(parent), false) = (parent, see_also) {
        extra.control("SH", ["SEE ALSO"]);
        extra.text([bold(parent), roman(format!("({SECTION})"))]);
    }
    extra.to_writer(&mut out)?;
    let page = finish(&String::from_utf8_lossy(&out));
    fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))
}

/// Appends the sections of an after-help text (the form of the module documentation) to
/// `roff`; true if one is SEE ALSO.
fn sections(roff: &mut Roff, text: &str) -> bool {
    let mut see_also = false;
    // The paragraph or item description being gathered, one text line to roff.
    let mut words: Vec<&str> = Vec::new();
    let flush = |roff: &mut Roff, words: &mut Vec<&str>| {
        if !words.is_empty() {
            roff.text([roman(words.join(" "))]);
            words.clear();
        }
    };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if line.is_empty() {
            flush(roff, &mut words);
        } else if indent == 0 && line.ends_with(':') {
            flush(roff, &mut words);
            let heading = line.trim_end_matches(':').to_uppercase();
            see_also |= heading == "SEE ALSO";
            roff.control("SH", [heading.as_str()]);
        } else if indent == 2 {
            // An item: the term, then (after two spaces or more) its description.
            flush(roff, &mut words);
            let (term, desc) = match line.find("  ") {
                Some(i) => (&line[..i], line[i..].trim_start()),
                None => (line, ""),
            };
            roff.control("TP", []);
            roff.text([bold(term)]);
            words.extend(Some(desc).filter(|d| !d.is_empty()));
        } else {
            if words.is_empty() && indent == 0 {
                roff.control("PP", []);
            }
            words.push(line);
        }
    }
    flush(roff, &mut words);
    see_also
}

/// The last touches to a rendered page: one apostrophe preamble (roff writes one per part),
/// and `code` (the help's quoting of a command or a name) in bold.
fn finish(page: &str) -> String {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let mut out = String::from(PREAMBLE);
    for line in page.replace(PREAMBLE, "").lines() {
        let parts: Vec<&str> = line.split('`').collect();
        let ticks = parts.len() - 1;
        out.push_str(parts[0]);
        for (k, part) in parts.iter().enumerate().skip(1) {
            // Backquote k opens when odd, closes when even; a last one without a pair, or
            // any on a control line, stays as it is.
            out.push_str(match k {
                _ if line.starts_with('.') => "`",
                k if k % 2 == 1 && k == ticks => "`",
                k if k % 2 == 1 => "\\fB",
                _ => "\\fR",
            });
            out.push_str(part);
        }
        out.push('\n');
    }
    out
}
