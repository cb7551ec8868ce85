// Package docs holds the test that keeps the README's Go snippets true: each
// is an excerpt of a file that compiles (an example, a test, the poll
// example, the scaffold's templates), and the test checks that the file
// still says it.
package docs
