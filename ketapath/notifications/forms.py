"""Forms of the outbox pages: a prescriber's pre-session instruction."""

from django import forms

INSTRUCTION_HELP = (
    "Up to 300 characters, written as you would say it to the patient. Every session "
    "reminder carries it, and reminders can be read on a lock screen: leave out the "
    "treatment and any diagnosis."
)


class InstructionForm(forms.Form):
    text = forms.CharField(
        label="Instruction",
        max_length=300,
        help_text=INSTRUCTION_HELP,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 300}),
    )
