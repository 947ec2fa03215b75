using SocketPush.Node.CommandLine;

return await Commands.InvokeAsync(args);
