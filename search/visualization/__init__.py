"""What a study shows: the Pareto plot, the HTML report and its figures, images, dashboard."""
