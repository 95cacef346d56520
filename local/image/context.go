package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// IgnoreFile is the ignore file a build of dockerfile reads, and its
// patterns: <dockerfile>.dockerignore when it exists, else the context's
// .dockerignore, else none. This is the order BuildKit documents
// (https://docs.docker.com/build/concepts/context/#filename-and-location)
// and the one pulumi-docker v4.10.0 applies when it hashes and sends the
// context (provider/provider.go, getIgnorePatterns). Docker's legacy
// builder reads only the context's .dockerignore (docker/cli v28.2.2,
// cli/command/image/build.go: build.ReadDockerignore(contextDir)), which
// is why the image tests pack the context themselves (ContextFiles).
func IgnoreFile(contextDir, dockerfile string) (path string, patterns []string, err error) {
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(contextDir, ".dockerignore")} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", p, err)
		}
		return p, patterns, nil
	}
	return "", nil, nil
}

// ContextFiles lists the files (slash-separated, relative to contextDir) a
// build of dockerfile sends as its context: those its ignore file admits,
// plus the Dockerfile and the ignore file themselves, which the builder
// always gets (docker/cli's TrimBuildFilesFromExcludes, which pulumi-docker
// calls too).
func ContextFiles(contextDir, dockerfile string) ([]string, error) {
	ignore, patterns, err := IgnoreFile(contextDir, dockerfile)
	if err != nil {
		return nil, err
	}
	files, err := contextFilesWith(contextDir, patterns)
	if err != nil {
		return nil, err
	}
	for _, always := range []string{dockerfile, ignore} {
		if always == "" {
			continue
		}
		rel, err := filepath.Rel(contextDir, always)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // outside the context: sent apart from it
		}
		if rel = filepath.ToSlash(rel); !slices.Contains(files, rel) {
			files = append(files, rel)
		}
	}
	sort.Strings(files)
	return files, nil
}

// contextFilesWith lists the regular files under contextDir that patterns
// (.dockerignore syntax) do not exclude. A file is excluded when it or one
// of its parent directories matches, exceptions (!) included, as Docker's
// archiver and BuildKit's fsutil decide.
func contextFilesWith(contextDir string, patterns []string) ([]string, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("ignore patterns: %w", err)
	}
	var files []string
	err = filepath.WalkDir(contextDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(contextDir, path)
		if err != nil {
			return err
		}
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if !excluded {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// WriteContextTar writes files (from ContextFiles) as the tar stream a
// client sends the builder, owned by root as pulumi-docker sends them.
func WriteContextTar(w io.Writer, contextDir string, files []string) error {
	tw := tar.NewWriter(w)
	for _, rel := range files {
		path := filepath.Join(contextDir, filepath.FromSlash(rel))
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
