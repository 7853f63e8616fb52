"""What tests of the command give its environment."""

from __future__ import annotations

#: The command's messages in English (its default is Vietnamese): for tests about something other than
#: the language, which match English words in its output.
ENGLISH = {"DIGITIZE_UI__LANGUAGE": "en"}
