"""What each migration tool shows on a project's Servers blade.

The Servers blade belongs to the project; what a tool's card says (counts, which buttons work and why
not) belongs to the app that provides the tool. Each such app registers its card's context at start-up
(in its AppConfig.ready), so this app shows the cards without importing the apps behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolCard:
    # context(user, project) -> the template variables of the card; `empty` stands when no project
    # is selected, so the template reads the same names either way.
    context: Callable[[object, object], dict]
    empty: dict


_CARDS: dict[str, ToolCard] = {}


def register(tool: str, card: ToolCard) -> None:
    _CARDS[tool] = card


def context(user, project) -> dict:
    """Every registered card's variables for this project (or their empty values without one)."""
    merged: dict = {}
    for card in _CARDS.values():
        merged.update(card.context(user, project) if project is not None else card.empty)
    return merged
