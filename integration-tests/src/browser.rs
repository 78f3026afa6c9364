//! A real headless Chromium for tests of the web pages: Debian's `chromium`, driven over
//! WebDriver by Debian's `chromedriver` (both installed by `scripts/setup`), through the
//! `fantoccini` client. Each [`Browser`] has its own chromedriver process on a free loopback
//! port, its own profile and download folders, and saves screenshots under the build's target
//! directory (`<target>/screenshots/<suite>/`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;

use crate::wait_until;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: TempDir,
    screenshots: PathBuf,
}

/// Returns the folder screenshots of `suite` are saved in: `<target>/screenshots/<suite>`,
/// beside the test executable's profile directory (e.g. `target/release/screenshots/console`).
pub fn screenshot_dir(suite: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test> → <target>/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    profile_dir.join("screenshots").join(suite)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of 1366×900 that accepts the test
    /// CA's certificates; panics with the install command when either is missing (never skips).
    pub async fn start(suite: &str) -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the browser tests need Debian's chromium and \
                 chromium-driver (scripts/setup installs them: apt-get install chromium \
                 chromium-driver fonts-noto-cjk)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver to listen", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        let profile = TempDir::new().expect("a temporary directory");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("a download folder");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        // The test federation's certificates come from a throwaway CA the browser does not know.
        capabilities.insert("acceptInsecureCerts".into(), json!(true));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                    "--lang=ja",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "ja",
                },
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a WebDriver session with chromium");
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(5)),
            ))
            .await
            .expect("set timeouts");
        let screenshots = screenshot_dir(suite);
        std::fs::create_dir_all(&screenshots).expect("a screenshot folder");
        Self {
            client,
            driver,
            profile,
            screenshots,
        }
    }

    /// The folder downloads land in.
    pub fn downloads(&self) -> PathBuf {
        self.profile.path().join("downloads")
    }

    /// Opens `url` and waits for the page to load.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path of the current page (e.g. `/status`).
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current url")
            .path()
            .to_owned()
    }

    /// The visible text of the first element matching a CSS selector.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The text of every cell of each row matching `css` (`th` and `td` in order), read in one
    /// script so the rows come from one rendering of the page.
    pub async fn rows(&self, css: &str) -> Vec<Vec<String>> {
        let value = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(r => \
                 Array.from(r.querySelectorAll('th, td')).map(c => c.innerText.trim()));",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("rows of {css}: {e}"));
        serde_json::from_value(value).unwrap_or_else(|e| panic!("rows of {css}: {e}"))
    }

    /// Clicks what navigates (a link, a form's button) and waits until the next page has loaded.
    pub async fn follow(&self, css: &str) {
        self.client
            .execute("window.__renkeiBefore = true;", vec![])
            .await
            .expect("mark the page");
        self.click(css).await;
        wait_until(&format!("the page after clicking {css}"), || async {
            self.client
                .execute(
                    "return window.__renkeiBefore !== true && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        })
        .await;
    }

    /// Clicks the first element matching a CSS selector.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the first element matching a CSS selector.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        field.clear().await.expect("clear a field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Chooses a file of this machine in the file input matching a CSS selector, as a clerk
    /// picking it in the file dialog.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .send_keys(&path.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("choose {} in {css}: {e}", path.display()));
    }

    /// Sets the value of a form control directly (date inputs, whose typing depends on the
    /// locale).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set {css}: {e}"));
    }

    /// Chooses the option with `value` in the select box matching a CSS selector.
    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Runs a script in the page and returns its value (an async script's callback is its last
    /// argument).
    pub async fn run_async(&self, script: &str) -> serde_json::Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Saves a screenshot of the window as `<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write a screenshot");
        path
    }

    /// Saves a screenshot of the whole page (the window resized to the page's height).
    pub async fn full_screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .client
            .execute(
                "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(900)
            .clamp(600, 8000);
        let _ = self.client.set_window_size(1366, height as u32 + 100).await;
        let path = self.screenshot(name).await;
        let _ = self.client.set_window_size(1366, 900).await;
        path
    }

    /// Waits for a downloaded file whose name ends with `suffix` and returns its bytes.
    pub async fn downloaded(&self, suffix: &str) -> Vec<u8> {
        let dir = self.downloads();
        let found = std::cell::RefCell::new(None);
        wait_until(&format!("a download ending in {suffix}"), || async {
            let file = std::fs::read_dir(&dir).ok().and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.to_string_lossy().ends_with(suffix))
            });
            match file.and_then(|p| std::fs::read(p).ok()) {
                Some(bytes) if !bytes.is_empty() => {
                    *found.borrow_mut() = Some(bytes);
                    true
                }
                _ => false,
            }
        })
        .await;
        found.into_inner().unwrap_or_default()
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
