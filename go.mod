module github.com/coderclaw/coderclaw

go 1.26
