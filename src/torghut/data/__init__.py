"""Datasets: immutable snapshots, importers, sample and synthetic data, quality, features."""
