# escape=`
# kubeproof:ignore KP0104 reviewed: the platform team tracks this base
FROM mcr.microsoft.com/dotnet/aspnet:8.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS runtime
USER app

FROM runtime AS final
ENV ASPNETCORE_URLS=http://+:8080 `
    DOTNET_RUNNING_IN_CONTAINER=true
COPY app/ /app/
FROM final
