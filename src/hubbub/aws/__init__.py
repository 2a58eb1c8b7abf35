"""AWS Lambda entry points: thin handlers over the shared services."""
