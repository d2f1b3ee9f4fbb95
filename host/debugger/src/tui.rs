//! The full-screen terminal UI: source with the current line, locals, call
//! stack, threads, the position on the timeline, and the exception at the
//! crash. Every key is one move of the [`Session`]; nothing is decoded but
//! what is on screen.

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, LineGauge, Paragraph, Wrap};
use ratatui::{DefaultTerminal, Frame};

use crate::commands::{self, HELP};
use crate::session::{Direction, Motion, Session};

/// The keys, for the help overlay and the hint line.
const KEYS: &str = "\
s / →    step              S / ←    reverse-step
n        next (over)       N        reverse-next
f        finish (out)      F        reverse-finish
c        continue          C        reverse-continue
u / d    select the caller (up) / the callee (down)
b        toggle a breakpoint on the current line
g        go to an event number
t        next thread
Home/End first / last event
:        a command (print x, print self.total, history x, ...)
?        this help          q / Esc  quit";

struct Ui {
    /// What the last key or command said.
    message: String,
    /// Text being typed after `:` or `g`.
    input: Option<(Prompt, String)>,
    /// The help overlay, scrolled by this many lines.
    help: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Command,
    Goto,
}

/// Runs the UI until the user quits. `banner` is shown first.
pub fn run(session: &mut Session, banner: &str) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, session, banner);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    session: &mut Session,
    banner: &str,
) -> std::io::Result<()> {
    let mut ui = Ui {
        message: banner
            .lines()
            .filter(|line| line.starts_with("note:"))
            .collect::<Vec<_>>()
            .join("\n"),
        input: None,
        help: None,
    };
    loop {
        terminal.draw(|frame| draw(frame, session, &ui))?;
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        if !handle(session, &mut ui, key) {
            return Ok(());
        }
    }
}

/// Applies a key; false to quit.
fn handle(session: &mut Session, ui: &mut Ui, key: KeyEvent) -> bool {
    if let Some((prompt, text)) = &mut ui.input {
        match key.code {
            KeyCode::Enter => {
                let line = match prompt {
                    Prompt::Command => text.clone(),
                    Prompt::Goto => format!("goto {text}"),
                };
                ui.input = None;
                if commands::is_quit(&line) {
                    return false;
                }
                ui.message = commands::run(session, &line);
            }
            KeyCode::Esc => ui.input = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        return true;
    }
    if let Some(scroll) = &mut ui.help {
        match key.code {
            KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown | KeyCode::Char(' ') => {
                *scroll = scroll.saturating_add(if key.code == KeyCode::Down { 1 } else { 10 });
            }
            KeyCode::Up | KeyCode::Char('k') | KeyCode::PageUp => {
                *scroll = scroll.saturating_sub(if key.code == KeyCode::Up { 1 } else { 10 });
            }
            KeyCode::Char('q') => return false,
            _ => ui.help = None,
        }
        return true;
    }
    let motion = |m, d| Some((m, d));
    use Direction::{Backward, Forward};
    let moving = match key.code {
        KeyCode::Char('s') | KeyCode::Right => motion(Motion::Step, Forward),
        KeyCode::Char('S') | KeyCode::Left => motion(Motion::Step, Backward),
        KeyCode::Char('n') => motion(Motion::Next, Forward),
        KeyCode::Char('N') => motion(Motion::Next, Backward),
        KeyCode::Char('f') => motion(Motion::Finish, Forward),
        KeyCode::Char('F') => motion(Motion::Finish, Backward),
        KeyCode::Char('c') => motion(Motion::Continue, Forward),
        KeyCode::Char('C') => motion(Motion::Continue, Backward),
        _ => None,
    };
    if let Some((motion, direction)) = moving {
        ui.message = match session.motion(motion, direction) {
            Some(moved) => commands::move_notes(&moved).join("; "),
            None => format!("thread {} has no events", session.thread()),
        };
        return true;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return false,
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return false,
        KeyCode::Char('?') | KeyCode::Char('h') => ui.help = Some(0),
        KeyCode::Char('u') => ui.message = commands::run(session, "up"),
        KeyCode::Char('d') => ui.message = commands::run(session, "down"),
        KeyCode::Char(':') => ui.input = Some((Prompt::Command, String::new())),
        KeyCode::Char('g') => ui.input = Some((Prompt::Goto, String::new())),
        KeyCode::Home => session.seek(0),
        KeyCode::End => session.seek(u32::MAX),
        KeyCode::Char('t') => {
            let threads: Vec<u32> = session.threads().iter().map(|t| t.0).collect();
            let at = threads.iter().position(|t| *t == session.thread());
            let next = at.map_or(0, |at| (at + 1) % threads.len().max(1));
            if let Some(thread) = threads.get(next) {
                let _ = session.set_thread(*thread);
                ui.message = format!("thread {thread}");
            }
        }
        KeyCode::Char('b') => {
            ui.message = match current_file_line(session) {
                Some((file, line)) => match session.toggle_breakpoint(&file, line) {
                    Ok(true) => format!("breakpoint set at {file}:{line}"),
                    Ok(false) => format!("breakpoint deleted at {file}:{line}"),
                    Err(err) => err,
                },
                None => "no source line here".into(),
            }
        }
        _ => {}
    }
    true
}

fn current_file_line(session: &Session) -> Option<(String, u32)> {
    let pos = session.pos()?;
    let frame = session.backtrace(pos).into_iter().nth(session.selected())?;
    Some((frame.file?, frame.line))
}

fn draw(frame: &mut Frame, session: &Session, ui: &Ui) {
    let [title, gauge, main, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(4),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [source, side] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(main);
    let [locals, stack, threads] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Percentage(30),
        Constraint::Percentage(20),
    ])
    .areas(side);

    let pos = session.pos();
    let index = session.index();
    let (number, len) = match (pos, index) {
        (Some(pos), Some(index)) => (index.event_number(pos), index.len()),
        _ => (0, 0),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            " rewind ".bold().reversed(),
            Span::raw(format!(
                " thread {}  event #{number}  ({} of {len})  {}",
                session.thread(),
                pos.map_or(0, |p| p + 1),
                session.origin
            )),
        ])),
        title,
    );
    let ratio = match (pos, len) {
        (Some(pos), 2..) => f64::from(pos) / f64::from(len - 1),
        _ => 1.0,
    };
    frame.render_widget(
        LineGauge::default()
            .filled_style(Style::default().fg(Color::Cyan))
            .label("timeline ")
            .ratio(ratio),
        gauge,
    );

    draw_source(frame, session, source);
    let locals_text: Vec<Line> = match pos {
        Some(pos) => commands::shown_locals(session, pos)
            .into_iter()
            .map(|(name, value)| Line::from(vec![name.bold(), Span::raw(format!(" = {value}"))]))
            .collect(),
        None => Vec::new(),
    };
    frame.render_widget(
        Paragraph::new(locals_text)
            .block(Block::bordered().title(" Locals "))
            .wrap(Wrap { trim: false }),
        locals,
    );
    let stack_text: Vec<Line> = match pos {
        Some(pos) => session
            .backtrace(pos)
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let file = f.file.as_deref().unwrap_or("?");
                let file = file.rsplit('/').next().unwrap_or(file);
                let line = format!("#{n} {} {file}:{}", f.function, f.line);
                if n == session.selected() {
                    Line::from(line.bold())
                } else {
                    Line::from(line)
                }
            })
            .collect(),
        None => Vec::new(),
    };
    frame.render_widget(
        Paragraph::new(stack_text).block(Block::bordered().title(" Call stack ")),
        stack,
    );
    let threads_text: Vec<Line> = session
        .threads()
        .iter()
        .map(|(thread, len, _)| {
            let mark = if *thread == session.thread() {
                "*"
            } else {
                " "
            };
            Line::from(format!("{mark} thread {thread}: {len} events"))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(threads_text).block(Block::bordered().title(" Threads ")),
        threads,
    );

    let mut lines: Vec<Line> = Vec::new();
    if let Some(pos) = pos {
        let place = commands::place(session, pos);
        let first = place.lines().next().unwrap_or_default().to_owned();
        lines.push(Line::from(first.bold()));
        for extra in place.lines().skip(1).filter(|l| l.starts_with("crashed")) {
            lines.push(Line::from(extra.to_owned().red().bold()));
        }
    }
    for message in ui.message.lines() {
        lines.push(Line::from(message.to_owned()));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), status);
    let hint = match &ui.input {
        Some((Prompt::Command, text)) => format!(":{text}"),
        Some((Prompt::Goto, text)) => format!("go to event: {text}"),
        None => " s step  n next  f finish  c continue  (capitals: reverse)  u/d up/down  b break  g goto  : command  ? help  q quit".into(),
    };
    frame.render_widget(Paragraph::new(hint).reversed(), hints);

    if let Some(scroll) = ui.help {
        let text = format!("{KEYS}\n\nCommands after ':' (and in --commands scripts)\n{HELP}");
        let lines = text.lines().count() as u16;
        let area = centered(frame.area(), 84, lines + 2);
        // Scrolled no further than the last line.
        let scroll = scroll.min(lines.saturating_sub(area.height.saturating_sub(2)));
        frame.render_widget(Clear, area);
        frame.render_widget(
            Paragraph::new(text)
                .scroll((scroll, 0))
                .block(Block::bordered().title(" Help (↑/↓ scroll, any other key closes) ")),
            area,
        );
    }
}

fn draw_source(frame: &mut Frame, session: &Session, area: Rect) {
    let current = session
        .pos()
        .and_then(|pos| session.backtrace(pos).into_iter().nth(session.selected()));
    let Some(current) = current else {
        frame.render_widget(
            Paragraph::new("no events").block(Block::bordered().title(" Source ")),
            area,
        );
        return;
    };
    let file = current.file.clone().unwrap_or_else(|| "?".into());
    let title = format!(" {file} ");
    let Some(lines) = session.source(&file) else {
        let text = format!(
            "line {} of {file}: its source is not in the recording",
            current.line
        );
        frame.render_widget(
            Paragraph::new(text).block(Block::bordered().title(title)),
            area,
        );
        return;
    };
    let height = area.height.saturating_sub(2) as usize;
    let at = (current.line as usize).max(1);
    let first = at.saturating_sub(height / 2).max(1);
    let shown: Vec<Line> = (first..first + height)
        .filter_map(|n| Some((n, lines.get(n - 1)?)))
        .map(|(n, text)| {
            let bp = if session.has_breakpoint(&file, n as u32) {
                "●"
            } else {
                " "
            };
            let arrow = if n == at { "▶" } else { " " };
            let line = format!("{bp}{arrow}{n:>5} {text}");
            if n == at {
                Line::from(line).style(Style::default().add_modifier(Modifier::REVERSED))
            } else if bp != " " {
                Line::from(line.red())
            } else {
                Line::from(line)
            }
        })
        .collect();
    frame.render_widget(
        Paragraph::new(shown).block(Block::bordered().title(title)),
        area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
