"""The forms an agent fills in about themselves: their profile and their password."""

from __future__ import annotations

from django import forms

from .models import User


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("nickname", "avatar", "language")
