//! `quarry review next`: the reviewer's screen.
//!
//! One document of the reviewer's batch at a time: metadata and family on top, the text with
//! hits highlighted on the left, the coding layout on the right. Coding is by keystroke and
//! is kept as pending edits until the reviewer moves on (`n`, `p`, `q`): then it is saved as
//! one request through the same checks as `review code`, so a privileged call without its
//! basis is refused on screen and the reviewer stays on the document. Progress lives in the
//! case (a document is reviewed once its required fields are coded), so quitting and coming
//! back resumes at the first document not yet reviewed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use quarry_case::{Batch, Case, Change, CodeRequest, DocView, FieldDef, FieldKind, Op};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Paragraph, Wrap};

/// Starts the screen on the reviewer's batch (checking one out when they hold none).
pub(crate) fn run(case: &Case, reviewer: &str, level: Option<u32>) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "review next is the reviewer's screen and needs a terminal; from a script, use `review batch next`, `review batch show` and `review code`"
        );
    }
    let Some((batch, _)) = case.batch_next(reviewer, level)? else {
        outln!("no batch left to check out")?;
        return Ok(ExitCode::from(1));
    };
    let docs = case.batch_documents(&batch.name)?;
    let start = docs.iter().position(|d| !d.2).unwrap_or(0);
    let mut app = App {
        case,
        reviewer: reviewer.to_owned(),
        batch,
        docs,
        at: start,
        view: None,
        pending: BTreeMap::new(),
        field: 0,
        scroll: 0,
        family: false,
        input: None,
        message: (String::new(), false),
    };
    app.load()?;
    let mut terminal = ratatui::try_init()?;
    let outcome = app.main_loop(&mut terminal);
    ratatui::restore();
    outcome?;
    let batch = case.batches()?.into_iter().find(|b| b.name == app.batch.name);
    if let Some(b) = batch {
        outln!("{}: {} of {} reviewed", b.name, b.reviewed, b.documents)?;
    }
    Ok(ExitCode::SUCCESS)
}

struct App<'c> {
    case: &'c Case,
    reviewer: String,
    batch: Batch,
    /// The batch: item id, control number, reviewed.
    docs: Vec<(u64, String, bool)>,
    at: usize,
    view: Option<DocView>,
    /// Edits not saved yet: field -> values.
    pending: BTreeMap<String, Vec<String>>,
    /// Selected field of the layout.
    field: usize,
    scroll: u16,
    family: bool,
    /// Text being typed for a text field.
    input: Option<String>,
    /// Status line and whether it is an error.
    message: (String, bool),
}

impl App<'_> {
    fn fields(&self) -> &[FieldDef] {
        &self.case.config().coding.fields
    }

    fn load(&mut self) -> Result<()> {
        let control = &self.docs[self.at].1;
        // The batch's query marks its hits; a query the index can no longer answer (a
        // rebuilt index, say) only loses the marks.
        let view = match self.case.doc_view(control, Some(&self.batch.query)) {
            Ok(view) => view,
            Err(_) => self.case.doc_view(control, None)?,
        };
        self.view = Some(view);
        self.pending.clear();
        self.scroll = 0;
        Ok(())
    }

    /// The values shown for a field: pending, else current.
    fn values(&self, field: &FieldDef) -> Vec<String> {
        if let Some(v) = self.pending.get(&field.name) {
            return v.clone();
        }
        self.view
            .as_ref()
            .and_then(|v| v.coding.iter().find(|c| c.field == field.name))
            .map(|c| c.values.clone())
            .unwrap_or_default()
    }

    /// Saves the pending edits; false (with the reason shown) when they were refused.
    fn save(&mut self) -> Result<bool> {
        if self.pending.is_empty() {
            return Ok(true);
        }
        let changes = self
            .pending
            .iter()
            .map(|(field, values)| Change {
                field: field.clone(),
                op: Op::Set,
                values: values.clone(),
            })
            .collect();
        let request = CodeRequest {
            reviewer: self.reviewer.clone(),
            items: vec![self.docs[self.at].0],
            changes,
            family: self.family,
            level: None,
            query: None,
        };
        match self.case.code(&request) {
            Ok(report) => {
                self.message = (
                    format!(
                        "saved {}: {} decisions{}",
                        self.docs[self.at].1,
                        report.decisions,
                        if report.family_members > 0 {
                            format!(", {} family members", report.family_members)
                        } else {
                            String::new()
                        }
                    ),
                    false,
                );
                self.refresh_batch()?;
                Ok(true)
            }
            Err(quarry_case::Error::Coding(reason)) => {
                self.message = (reason.replace('\n', " "), true);
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn refresh_batch(&mut self) -> Result<()> {
        self.docs = self.case.batch_documents(&self.batch.name)?;
        if let Some(b) = self.case.batches()?.into_iter().find(|b| b.name == self.batch.name) {
            self.batch = b;
        }
        Ok(())
    }

    fn main_loop(&mut self, terminal: &mut ratatui::DefaultTerminal) -> Result<()> {
        loop {
            terminal.draw(|frame| self.draw(frame))?;
            let Event::Key(key) = event::read()? else { continue };
            if key.kind != KeyEventKind::Press {
                continue;
            }
            if self.input.is_some() {
                self.type_key(key);
                continue;
            }
            if !self.key(key)? {
                return Ok(());
            }
        }
    }

    /// A key while typing a text field's value.
    fn type_key(&mut self, key: KeyEvent) {
        let Some(text) = self.input.as_mut() else { return };
        match key.code {
            KeyCode::Enter => {
                let value = text.trim().to_owned();
                let name = self.fields()[self.field].name.clone();
                self.pending.insert(name, if value.is_empty() { vec![] } else { vec![value] });
                self.input = None;
            }
            KeyCode::Esc => self.input = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
            _ => {}
        }
    }

    /// Saves, then moves to the next or previous document of the batch.
    fn go(&mut self, forward: bool) -> Result<()> {
        if !self.save()? {
            return Ok(());
        }
        if forward && self.at + 1 < self.docs.len() {
            self.at += 1;
            self.load()?;
        } else if !forward && self.at > 0 {
            self.at -= 1;
            self.load()?;
        } else if forward {
            let left = self.docs.iter().filter(|d| !d.2).count();
            self.message = (
                format!(
                    "end of batch {}: {left} documents not reviewed yet; q to leave",
                    self.batch.name
                ),
                left > 0,
            );
        }
        Ok(())
    }

    /// A key on the document; false to quit.
    fn key(&mut self, key: KeyEvent) -> Result<bool> {
        let fields = self.fields().len();
        match key.code {
            // Quit once the edits are saved (a refusal keeps the reviewer on the document).
            KeyCode::Char('q') | KeyCode::Esc => return Ok(!self.save()?),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Ok(false);
            }
            KeyCode::Down | KeyCode::Tab => self.field = (self.field + 1) % fields.max(1),
            KeyCode::Up | KeyCode::BackTab => {
                self.field = (self.field + fields.max(1) - 1) % fields.max(1);
            }
            KeyCode::Char('n') | KeyCode::Right => self.go(true)?,
            KeyCode::Char('p') | KeyCode::Left => self.go(false)?,
            KeyCode::PageDown | KeyCode::Char('j') => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Char('f') => {
                self.family = !self.family;
                self.message = (
                    format!(
                        "family coding {}",
                        if self.family {
                            "on: family fields go to the whole family"
                        } else {
                            "off"
                        }
                    ),
                    false,
                );
            }
            KeyCode::Char('u') => {
                self.pending.clear();
                self.message = ("edits undone".into(), false);
            }
            KeyCode::Enter | KeyCode::Char(' ') => {
                let field = self.fields()[self.field].clone();
                match field.kind {
                    FieldKind::Text => {
                        self.input = Some(self.values(&field).first().cloned().unwrap_or_default());
                    }
                    FieldKind::Flag => {
                        let yes = self.values(&field).first().is_some_and(|v| v == "yes");
                        self.pending
                            .insert(field.name, vec![if yes { "no" } else { "yes" }.into()]);
                    }
                    FieldKind::Choice | FieldKind::Multi => {}
                }
            }
            KeyCode::Char('0') => {
                let name = self.fields()[self.field].name.clone();
                self.pending.insert(name, vec![]);
            }
            KeyCode::Char(d @ '1'..='9') => {
                let n = (d as u8 - b'1') as usize;
                let field = self.fields()[self.field].clone();
                let choices: Vec<String> = match field.kind {
                    FieldKind::Flag => vec!["yes".into(), "no".into()],
                    _ => field.choices.clone(),
                };
                if let Some(choice) = choices.get(n) {
                    let mut values = self.values(&field);
                    if field.kind == FieldKind::Multi {
                        if let Some(i) = values.iter().position(|v| v == choice) {
                            values.remove(i);
                        } else {
                            values.push(choice.clone());
                            values.sort();
                        }
                    } else {
                        values = vec![choice.clone()];
                    }
                    self.pending.insert(field.name, values);
                }
            }
            _ => {}
        }
        Ok(true)
    }

    fn draw(&self, frame: &mut ratatui::Frame<'_>) {
        let Some(view) = &self.view else { return };
        let [top, body, help, status] = Layout::vertical([
            Constraint::Length(u16::try_from(view.metadata.len().min(6) + 4).unwrap_or(10)),
            Constraint::Min(5),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        let reviewed = self.docs.iter().filter(|d| d.2).count();
        let title = format!(
            " {}  document {} of {}  ({} reviewed)  reviewer {} ",
            self.batch.name,
            self.at + 1,
            self.docs.len(),
            reviewed,
            self.reviewer
        );
        let mut head = vec![Line::from(vec![
            Span::styled(view.control_number.clone(), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                "  {}  custodian {}  {}{}",
                view.file_type,
                view.custodian,
                view.date.as_deref().unwrap_or("undated"),
                if self.docs[self.at].2 { "  [reviewed]" } else { "" }
            )),
        ])];
        for (name, value) in view.metadata.iter().take(6) {
            head.push(Line::raw(format!("{name:<11} {value}")));
        }
        let family: Vec<String> =
            view.family
                .iter()
                .map(|m| {
                    if m.this {
                        format!("[{}]", m.control_number)
                    } else {
                        m.control_number.clone()
                    }
                })
                .collect();
        head.push(Line::raw(format!("Family      {}", family.join(" "))));
        frame.render_widget(Paragraph::new(head).block(Block::bordered().title(title)), top);

        let [text_area, coding_area] =
            Layout::horizontal([Constraint::Min(30), Constraint::Length(44)]).areas(body);
        frame.render_widget(
            Paragraph::new(self.text(view))
                .block(Block::bordered().title(" Text "))
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            text_area,
        );
        frame.render_widget(
            Paragraph::new(self.coding_lines())
                .block(Block::bordered().title(if self.family {
                    " Coding (family) "
                } else {
                    " Coding "
                }))
                .wrap(Wrap { trim: false }),
            coding_area,
        );
        let keys = "↑↓ field  1-9 choose  0 clear  Enter edit/toggle  n/→ save+next  p/← prev  j/k scroll  f family  u undo  q save+quit";
        frame.render_widget(Paragraph::new(keys).style(Style::new().fg(Color::DarkGray)), help);
        let line = match &self.input {
            Some(text) => {
                format!("{}: {text}_   (Enter keeps, Esc cancels)", self.fields()[self.field].label)
            }
            None => self.message.0.clone(),
        };
        let style = if self.message.1 && self.input.is_none() {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        frame.render_widget(Paragraph::new(line).style(style), status);
    }

    fn coding_lines(&self) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        for (i, field) in self.fields().iter().enumerate() {
            let values = self.values(field);
            let edited = self.pending.contains_key(&field.name);
            let selected = i == self.field;
            let marker = if selected { "> " } else { "  " };
            let value = if values.is_empty() { "-".to_owned() } else { values.join(", ") };
            let style =
                if selected { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
            lines.push(Line::from(vec![
                Span::styled(format!("{marker}{}: ", field.label), style),
                Span::styled(
                    format!("{value}{}", if edited { " *" } else { "" }),
                    if edited { Style::new().fg(Color::Yellow) } else { Style::new() },
                ),
            ]));
            if selected {
                let choices: Vec<String> = match field.kind {
                    FieldKind::Flag => vec!["yes".into(), "no".into()],
                    FieldKind::Text => vec![],
                    _ => field.choices.clone(),
                };
                for (n, c) in choices.iter().enumerate().take(9) {
                    lines.push(Line::raw(format!("     {} {c}", n + 1)));
                }
                if field.kind == FieldKind::Text {
                    lines.push(Line::raw("     Enter to type".to_owned()));
                }
            }
        }
        lines
    }

    /// The text with hits highlighted: search hits reversed, rule hits red, boilerplate dim.
    fn text(&self, view: &DocView) -> Text<'static> {
        let Some(text) = &view.text else {
            return Text::raw("(no text extracted)");
        };
        let mut lines: Vec<Line<'static>> = Vec::new();
        let mut spans: Vec<Span<'static>> = Vec::new();
        let mut push = |s: &str, style: Style, lines: &mut Vec<Line<'static>>| {
            let mut parts = s.split('\n').peekable();
            while let Some(part) = parts.next() {
                let part = part.trim_end_matches('\r');
                if !part.is_empty() {
                    spans.push(Span::styled(part.to_owned(), style));
                }
                if parts.peek().is_some() {
                    lines.push(Line::from(std::mem::take(&mut spans)));
                }
            }
        };
        let mut at = 0;
        for m in &view.marks {
            if m.start < at
                || m.end > text.len()
                || !text.is_char_boundary(m.start)
                || !text.is_char_boundary(m.end)
            {
                continue;
            }
            push(&text[at..m.start], Style::new(), &mut lines);
            let style = match (m.label.as_str(), m.boilerplate) {
                ("search", _) => Style::new().add_modifier(Modifier::REVERSED),
                (_, true) => Style::new().fg(Color::DarkGray).add_modifier(Modifier::UNDERLINED),
                (_, false) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            };
            push(&text[m.start..m.end], style, &mut lines);
            at = m.end;
        }
        push(&text[at..], Style::new(), &mut lines);
        lines.push(Line::from(spans));
        Text::from(lines)
    }
}
