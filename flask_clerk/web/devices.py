"""A session's device, as the profile's "Active devices" shows it."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=256)
def describe_device(user_agent: str | None) -> dict[str, str | bool]:
    """``{"browser": "Chrome 131", "os": "macOS 14", "mobile": False}`` from a User-Agent."""
    if not user_agent:
        return {"browser": "Unknown browser", "os": "Unknown device", "mobile": False}
    result = parse(user_agent)
    browser = "Unknown browser"
    if result.user_agent is not None:
        browser = " ".join(p for p in (result.user_agent.family, result.user_agent.major) if p)
    system = "Unknown device"
    if result.os is not None:
        system = " ".join(p for p in (result.os.family, result.os.major) if p)
    mobile = bool(result.device and result.device.family not in {"Other", "Mac"}
                  and "Mobile" in user_agent)
    return {"browser": browser, "os": system, "mobile": mobile}
