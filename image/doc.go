// Package image builds the flashable image and A/B update bundles, and holds the stage-1 init.
package image
