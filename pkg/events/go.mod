module github.com/openqq/openqq/pkg/events

go 1.26
