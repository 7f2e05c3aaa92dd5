package hq

// projectionEvict removes the projection of a till's entries from a seq on ($1 store,
// $2 till, $3 seq).
var projectionEvict []string
