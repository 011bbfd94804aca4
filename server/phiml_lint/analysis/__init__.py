"""Static analysis: source loading, name resolution, the project index and traced-function facts."""
