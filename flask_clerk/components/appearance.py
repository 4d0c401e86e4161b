"""``appearance``: Clerk's theming config, checked at start-up, turned into CSS.

``variables`` become ``--clerk-<kebab-name>`` custom properties (in one place:
:meth:`Appearance.style`); ``theme`` picks the built-in light or dark defaults;
``elements`` adds the app's classes next to each ``cl-<key>``; ``options`` (or
``layout``) carries logo, links and social-button placement.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ClerkConfigError
from .element_keys import ELEMENT_KEY_PREFIXES, ELEMENT_KEYS

VARIABLES = (
    "colorPrimary", "colorPrimaryForeground", "colorDanger", "colorSuccess", "colorWarning",
    "colorNeutral", "colorForeground", "colorMuted", "colorMutedForeground", "colorBackground",
    "colorInput", "colorInputForeground", "colorShimmer", "colorRing", "colorShadow",
    "colorBorder", "colorModalBackdrop", "fontFamily", "fontFamilyButtons", "fontFamilyMono",
    "fontSize", "fontWeight", "borderRadius", "spacing",
)
# Clerk's deprecated names, still accepted.
VARIABLE_ALIASES = {
    "colorText": "colorForeground",
    "colorTextSecondary": "colorMutedForeground",
    "colorInputText": "colorInputForeground",
    "colorInputBackground": "colorInput",
    "spacingUnit": "spacing",
}
FONT_WEIGHTS = ("normal", "medium", "semibold", "bold")
OPTIONS: dict[str, tuple[Any, ...] | type] = {
    "logoImageUrl": str,
    "logoLinkUrl": str,
    "logoPlacement": ("inside", "outside", "none"),
    "socialButtonsPlacement": ("top", "bottom"),
    "socialButtonsVariant": ("auto", "iconButton", "blockButton"),
    "termsPageUrl": str,
    "privacyPageUrl": str,
    "helpPageUrl": str,
    "showOptionalFields": bool,
    "animations": bool,
    "shimmer": bool,
    "unsafe_disableDevelopmentModeWarnings": bool,
}
THEMES = ("light", "dark")
TOP_LEVEL = ("theme", "baseTheme", "variables", "elements", "options", "layout", "cssLayerName")
_UNSAFE_CSS = re.compile(r"[<>{};\\]|/\*|\*/")
_CLASS_LIST = re.compile(r"^[A-Za-z0-9_\-:/\[\]\.%!@#&=()' ]*$")


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


def _unknown(kind: str, key: str, known: Any) -> ClerkConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ClerkConfigError(f"CLERK_APPEARANCE: unknown {kind} {key!r}.{hint}")


@dataclass(frozen=True)
class Appearance:
    theme: str = "light"
    variables: Mapping[str, str] = field(default_factory=dict)
    elements: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, config: Mapping[str, Any] | None) -> Appearance:
        config = dict(config or {})
        for key in config:
            if key not in TOP_LEVEL:
                raise _unknown("key", key, TOP_LEVEL)
        theme = config.get("theme", config.get("baseTheme")) or "light"
        if theme not in THEMES:
            raise ClerkConfigError(
                f"CLERK_APPEARANCE: theme must be one of {THEMES}, not {theme!r}."
            )
        variables: dict[str, str] = {}
        for name, value in dict(config.get("variables") or {}).items():
            canonical = VARIABLE_ALIASES.get(name, name)
            if canonical not in VARIABLES:
                raise _unknown("variable", name, (*VARIABLES, *VARIABLE_ALIASES))
            if canonical == "fontWeight":
                variables.update(_font_weights(value))
                continue
            text = str(value).strip()
            if not text or _UNSAFE_CSS.search(text):
                raise ClerkConfigError(
                    f"CLERK_APPEARANCE: variables.{name} = {value!r} is not a plain CSS value."
                )
            variables[canonical] = text
        elements: dict[str, str] = {}
        for key, value in dict(config.get("elements") or {}).items():
            base = key.split("__", 1)[0]
            if base not in ELEMENT_KEYS and not base.startswith(ELEMENT_KEY_PREFIXES):
                raise _unknown("element key", base, ELEMENT_KEYS)
            if not isinstance(value, str) or not _CLASS_LIST.match(value):
                raise ClerkConfigError(
                    f"CLERK_APPEARANCE: elements.{key} must be a string of class names."
                )
            elements[key] = value
        options: dict[str, Any] = {}
        for key, value in {**(config.get("layout") or {}), **(config.get("options") or {})}.items():
            kind = OPTIONS.get(key)
            if kind is None:
                raise _unknown("option", key, OPTIONS)
            if isinstance(kind, tuple) and value not in kind:
                raise ClerkConfigError(f"CLERK_APPEARANCE: options.{key} must be one of {kind}.")
            if isinstance(kind, type) and not isinstance(value, kind):
                raise ClerkConfigError(
                    f"CLERK_APPEARANCE: options.{key} must be a {kind.__name__}."
                )
            if key.endswith("Url") and not _safe_url(value):
                raise ClerkConfigError(
                    f"CLERK_APPEARANCE: options.{key} must be an http(s) URL or a path."
                )
            options[key] = value
        return cls(theme=theme, variables=variables, elements=elements, options=options)

    def merged(self, override: Mapping[str, Any] | None) -> Appearance:
        """This appearance with a component's own ``appearance=`` on top."""
        if not override:
            return self
        other = Appearance.parse(override)
        return Appearance(
            theme=other.theme if ("theme" in override or "baseTheme" in override) else self.theme,
            variables={**self.variables, **other.variables},
            elements={**self.elements, **other.elements},
            options={**self.options, **other.options},
        )

    def style(self) -> str:
        """The variables as custom properties, for a component root's ``style``."""
        return ";".join(f"--clerk-{_kebab(k)}:{v}" for k, v in self.variables.items())


def _font_weights(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ClerkConfigError(
            "CLERK_APPEARANCE: variables.fontWeight must be a mapping like "
            "{'normal': 400, 'medium': 500, 'semibold': 600, 'bold': 700}."
        )
    weights = {}
    for name, weight in value.items():
        if name not in FONT_WEIGHTS or not str(weight).isdigit():
            raise ClerkConfigError(f"CLERK_APPEARANCE: variables.fontWeight.{name} is not valid.")
        weights[f"fontWeight{name.capitalize()}"] = str(weight)
    return weights


def _safe_url(value: str) -> bool:
    return value.startswith(("https://", "http://")) or (
        value.startswith("/") and not value.startswith("//")
    )
