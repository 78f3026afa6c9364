//! The look shared by renkei's pages: the layout (Japanese, `lang="ja"`, a skip link, the
//! navigation as a list, the signed-in person and a sign-out form), the stylesheet compiled
//! into the binary (screen from 1366×768 down to a tablet, and an A4 print stylesheet), and
//! small components (the answer badge, messages, hidden CSRF fields).

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The stylesheet of every page, served inline: nothing is fetched from elsewhere.
pub const STYLESHEET: &str = include_str!("console.css");

/// One entry of a page's navigation.
pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// Who is signed in, as the page header shows it.
pub struct SignedInAs<'a> {
    pub name: &'a str,
    /// The role in Japanese, e.g. 閲覧者.
    pub role: &'a str,
    pub csrf: &'a str,
}

/// A whole page: `site` names the application (e.g. 富山県 在宅医療・介護連携 コンソール),
/// `title` the page.
pub fn page(
    site: &str,
    title: &str,
    nav: &[NavLink],
    who: Option<&SignedInAs<'_>>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (site) }
                style { (PreEscaped(STYLESHEET)) }
            }
            body {
                a.skip href="#main" { "本文へ移動" }
                header.site {
                    div.brand { (site) }
                    @if let Some(who) = who {
                        div.who {
                            span { (who.name) "（" (who.role) "）" }
                            form method="post" action="/logout" {
                                (csrf_field(who.csrf))
                                button type="submit" { "サインアウト" }
                            }
                        }
                    }
                }
                @if !nav.is_empty() {
                    nav aria-label="ページ" {
                        ul {
                            @for link in nav {
                                li {
                                    @if link.current {
                                        a href=(link.href) aria-current="page" { (link.label) }
                                    } @else {
                                        a href=(link.href) { (link.label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field carrying a session's CSRF token in a form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A message box: `kind` is `ok`, `error` or `note`.
pub fn message(kind: &str, text: &str) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! { p class=(format!("msg {kind}")) role=(role) { (text) } }
}

/// The css class of one of the survey's three answers (0 実施している, 1 年度内に実施予定,
/// 2 実施していない); the answer's text is always printed beside the colour.
pub fn answer_class(index: usize) -> &'static str {
    ["ans-done", "ans-planned", "ans-not"][index.min(2)]
}

/// A short explanation box (指標の解説) beside a table.
pub fn explanation(title: &str, lines: &[&str]) -> Markup {
    html! {
        aside.explain {
            h2 { (title) }
            ul { @for l in lines { li { (l) } } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_japanese_with_a_print_stylesheet_for_a4() {
        let html = page("サイト", "題", &[], None, html! { p { "本文" } }).into_string();
        assert!(html.contains(r#"<html lang="ja">"#));
        assert!(
            !html.contains("<link") && !html.contains("<script src"),
            "nothing fetched"
        );
        let print = STYLESHEET
            .split("@media print")
            .nth(1)
            .expect("a print stylesheet");
        assert!(print.contains("size: A4 landscape"));
        assert!(print.contains("nav") && print.contains("display: none"));
        assert!(print.contains("thead { display: table-header-group; }"));
    }
}
