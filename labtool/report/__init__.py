"""Renderings of a room's results for people and CI: HTML, Markdown, JSON and JUnit XML."""
