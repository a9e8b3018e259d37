"""Diagnosis of the five video failures (and AI calls): pure decisions plus fact gathering."""
