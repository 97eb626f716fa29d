//! A WebDriver client (W3C protocol, JSON over HTTP) just large enough to
//! drive the console through tauri-driver and WebKitWebDriver.

// Each test binary uses part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// W3C's key for an element reference in answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    agent: ureq::Agent,
    base: String,
}

pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Session {
    /// Starts the application through the driver at `port`.
    pub fn start(port: u16, application: &std::path::Path) -> Session {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let root = format!("http://127.0.0.1:{port}");
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": application },
                    "browserName": "wry",
                }
            }
        });
        let answer = request(
            &agent,
            "POST",
            &format!("{root}/session"),
            Some(&capabilities),
        );
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Session {
            agent,
            base: format!("{root}/session/{id}"),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        request(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    /// The first element matching the CSS selector, waiting up to `wait`.
    pub fn find(&self, css: &str, wait: Duration) -> Element<'_> {
        let deadline = Instant::now() + wait;
        loop {
            let answer = request_raw(
                &self.agent,
                "POST",
                &format!("{}/element", self.base),
                Some(&json!({ "using": "css selector", "value": css })),
            );
            if let Some(id) = answer[ELEMENT].as_str() {
                return Element {
                    session: self,
                    id: id.to_owned(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} within {wait:?}: {answer}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` in the page (`arguments` are passed as `arguments`);
    /// a returned promise is awaited.
    pub fn script(&self, script: &str, arguments: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({
                "script": format!(
                    "const done = arguments[arguments.length - 1];\
                     Promise.resolve((async (...args) => {{ {script} }})(...Array.from(arguments).slice(0, -1)))\
                       .then(v => done({{ ok: v === undefined ? null : v }}), e => done({{ error: String(e) }}));"
                ),
                "args": arguments,
            })),
        )
    }

    /// `invoke(command, args)` on the app's own command handler, as the
    /// page does; panics with the app's error message if it fails.
    pub fn invoke(&self, command: &str, args: Value) -> Value {
        let answer = self.script(
            "return await window.__TAURI__.core.invoke(arguments[0], arguments[1]);",
            json!([command, args]),
        );
        if let Some(error) = answer.get("error") {
            panic!("{command}: {error}");
        }
        answer["ok"].clone()
    }

    /// Waits until `check` (a script returning a value) gives something
    /// `accept` takes.
    pub fn wait_for(
        &self,
        what: &str,
        check: &str,
        wait: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let value = self.script(check, json!([]))["ok"].clone();
            if accept(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still {value} after {wait:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The window's outer size, as a user would drag it.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(&json!({ "width": width, "height": height })),
        );
    }

    /// The page as it is drawn now, as PNG bytes.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let encoded = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("a screenshot that is not base64: {e}"))
    }

    /// Ends the session; the application may already be gone.
    pub fn end(self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

impl Element<'_> {
    pub fn click(&self) {
        self.interact("click", json!({}));
    }

    pub fn clear(&self) {
        self.interact("clear", json!({}));
    }

    pub fn type_text(&self, text: &str) {
        self.interact("value", json!({ "text": text }));
    }

    /// POSTs `action` to the element, waiting (as a user would) while the
    /// page has it in the DOM but not yet shown or focusable: WebKit
    /// answers "element not interactable" for a form still being laid out.
    fn interact(&self, action: &str, body: Value) {
        let url = format!("{}/element/{}/{action}", self.session.base, self.id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let value = request_raw(&self.session.agent, "POST", &url, Some(&body));
            match value.get("error").and_then(Value::as_str) {
                None => return,
                Some("element not interactable") if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some(error) => panic!("POST {url}: {error:?}: {}", value["message"]),
            }
        }
    }
}

fn request_raw(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(body)) => agent.post(url).send_json(body),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let answer: Value = response
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("{method} {url}: not JSON: {e}"));
    answer["value"].clone()
}

fn request(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    let value = request_raw(agent, method, url, body);
    if let Some(error) = value.get("error") {
        panic!("{method} {url}: {error}: {}", value["message"]);
    }
    value
}
