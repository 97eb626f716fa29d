// The page's words: the catalogue's Fluent text (crates/i18n/locales, the
// files the viewer and kh speak from), handed over by the Rust side and
// formatted here by @fluent/bundle.

import { FluentBundle, FluentResource } from "./vendor/fluent-bundle/index.js";
import type { Args, Translate } from "./model.js";

export interface Localizer {
  language: string;
  t: Translate;
  /// The message's attributes (placeholder, aria-label, title) formatted.
  attributes(id: string): Record<string, string>;
  /// Syntax errors in the source (the catalogue test keeps them out).
  errors: string[];
}

export function localizer(language: string, source: string): Localizer {
  // Isolation marks around arguments are for bidirectional scripts;
  // neither language needs them and they would end up in copied text.
  const bundle = new FluentBundle(language, { useIsolating: false });
  const errors = bundle.addResource(new FluentResource(source)).map(String);
  const t = (id: string, args?: Args): string => {
    const [messageId = id, attribute] = id.split(".");
    const message = bundle.getMessage(messageId);
    const pattern = attribute ? message?.attributes[attribute] : message?.value;
    return pattern ? bundle.formatPattern(pattern, args ?? null, []) : id;
  };
  const attributes = (id: string): Record<string, string> => {
    const message = bundle.getMessage(id);
    const out: Record<string, string> = {};
    for (const [name, pattern] of Object.entries(message?.attributes ?? {})) {
      out[name] = bundle.formatPattern(pattern, null, []);
    }
    return out;
  };
  return { language, t, attributes, errors };
}

/// Every `[data-l10n-id]` element under `root` in the localizer's
/// language: its text (when the message has one) and its attributes.
export function localize(root: ParentNode, l10n: Localizer): void {
  for (const element of root.querySelectorAll<HTMLElement>("[data-l10n-id]")) {
    const id = element.dataset.l10nId ?? "";
    const text = l10n.t(id);
    if (text !== id) element.textContent = text;
    for (const [name, value] of Object.entries(l10n.attributes(id))) {
      element.setAttribute(name, value);
    }
  }
}
