"""Modal dialogs: a one-line prompt, and a confirmation that can also just explain a refusal."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from wtpar.text import terminal_safe


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter submits, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "", hint: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            if self.hint:
                yield Label(self.hint, classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Return the text (None when empty)."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; with `refusal`, only the reason and an OK button."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No", show=False),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, body: str, refusal: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.refusal = refusal

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_plain(self.title_text), classes="dialog-title")
            if self.refusal:
                yield Label(_plain(self.refusal), id="refusal", classes="dialog-refusal")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("OK", id="no", variant="primary")
            else:
                yield Label(_plain(self.body), classes="dialog-body")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Yes (y)", id="yes", variant="error")
                    yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        """The safe answer has the focus, so a stray Enter changes nothing."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or no."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Keyboard answer; a refusal can only be acknowledged."""
        self.dismiss(answer and self.refusal is None)


def _plain(text: str) -> Text:
    """A dialog's text as it is (names, paths): not markup, nothing that steers the terminal."""
    return Text(terminal_safe(text))
